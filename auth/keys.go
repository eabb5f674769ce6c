package auth

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Key is one group key: an id, carried in every frame it signs, and a
// secret shared by the group.
type Key struct {
	ID     uint32
	Secret []byte
}

// Keys is a group's key set, loaded from a key file (LoadKeys) or built
// in code (NewKeys). It holds derived MAC keys, not the secrets, and it
// never prints them. It is immutable and safe to share.
type Keys struct {
	name     string // where the keys came from, for messages
	ids      []uint32
	macKeys  [][]byte // macKeys[i] belongs to ids[i]
	sign     uint32   // the id a Signer signs with; 0: not chosen
	warnings []string
}

// keyFile is the TOML layout of a key file. Pointers tell a missing key
// from a zero one.
type keyFile struct {
	Sign *int64 `toml:"sign"`
	Key  []struct {
		ID     *int64  `toml:"id"`
		Secret *string `toml:"secret"`
	} `toml:"key"`
}

const keyFileKeys = "sign, [[key]] id, [[key]] secret"

// LoadKeys reads a key file (feedpub and feedsub --auth-key FILE):
//
//	# feedbus group keys: keep this file mode 0600.
//	sign = 2                 # the key id publishers sign with; optional with one key
//
//	[[key]]
//	id     = 1               # 1 to 4294967295, carried in every frame
//	secret = "9f86d0...e1a2" # at least 32 random bytes, in hex (openssl rand -hex 32)
//
//	[[key]]
//	id     = 2
//	secret = "60303a...77b4"
//
// A verifier accepts every key in the file; a signer signs with the one
// sign names, or with the only key. Unknown keys, duplicate ids and short
// secrets are errors. A file that group or others may read loads, with a
// warning in Warnings.
func LoadKeys(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	k, err := ParseKeys(path, data)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		k.warnings = append(k.warnings, fmt.Sprintf("auth: %s is open to group or others (mode %04o): anyone who can read it can forge frames; chmod 600 %s",
			path, fi.Mode().Perm(), path))
	}
	return k, nil
}

// ParseKeys parses the content of a key file (see LoadKeys); name is used
// in errors. Every error is one line, wraps ErrKeyFile and never contains
// a secret.
func ParseKeys(name string, data []byte) (*Keys, error) {
	var f keyFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		// A ParseError's Error(), unlike its ErrorWithPosition, is one line
		// and does not quote the input, which holds secrets; so are the
		// decoder's type errors.
		msg := oneLine(err.Error())
		if strings.Contains(msg, `(last key "key")`) && strings.Contains(msg, "incompatible types") {
			msg += "; write each key as [[key]], with two brackets"
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrKeyFile, name, msg)
	}
	if und := md.Undecoded(); len(und) > 0 {
		names := make([]string, len(und))
		for i, k := range und {
			names[i] = strconv.Quote(k.String())
		}
		return nil, fmt.Errorf("%w: %s: unknown key %s (known: %s)", ErrKeyFile, name, strings.Join(names, ", "), keyFileKeys)
	}
	if len(f.Key) == 0 {
		return nil, fmt.Errorf("%w: %s: no [[key]]: add one with an id and a secret (openssl rand -hex 32)", ErrKeyFile, name)
	}
	keys := make([]Key, 0, len(f.Key))
	for i, e := range f.Key {
		switch {
		case e.ID == nil:
			return nil, fmt.Errorf("%w: %s: [[key]] number %d has no id", ErrKeyFile, name, i+1)
		case *e.ID < 1 || *e.ID > math.MaxUint32:
			return nil, fmt.Errorf("%w: %s: key id %d out of range (1 to %d)", ErrKeyFile, name, *e.ID, uint32(math.MaxUint32))
		case e.Secret == nil:
			return nil, fmt.Errorf("%w: %s: key %d has no secret", ErrKeyFile, name, *e.ID)
		}
		secret, err := parseSecret(*e.Secret)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key %d: %s", ErrKeyFile, name, *e.ID, err)
		}
		keys = append(keys, Key{ID: uint32(*e.ID), Secret: secret})
	}
	var sign uint32
	if f.Sign != nil {
		if *f.Sign < 1 || *f.Sign > math.MaxUint32 {
			return nil, fmt.Errorf("%w: %s: sign = %d out of range (1 to %d)", ErrKeyFile, name, *f.Sign, uint32(math.MaxUint32))
		}
		sign = uint32(*f.Sign)
	}
	k, err := newKeys(name, sign, keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrKeyFile, name, err)
	}
	return k, nil
}

// parseSecret decodes a hex secret. Its errors name positions, never
// characters: a secret must not leak into a log, even in part.
func parseSecret(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("secret has an odd number of hex digits (%d)", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		for i := 0; i < len(s); i++ {
			if !isHex(s[i]) {
				return nil, fmt.Errorf("secret is not hex: character %d is not 0-9, a-f or A-F", i+1)
			}
		}
		return nil, errors.New("secret is not hex")
	}
	return b, nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// NewKeys builds a key set in code. sign is the id a Signer signs with,
// or 0 to sign with the only key. The secrets are not kept.
func NewKeys(sign uint32, keys ...Key) (*Keys, error) {
	k, err := newKeys("keys", sign, keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrKeyFile, err)
	}
	return k, nil
}

func newKeys(name string, sign uint32, keys []Key) (*Keys, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	if len(keys) > MaxKeys {
		return nil, fmt.Errorf("%d keys, at most %d", len(keys), MaxKeys)
	}
	k := &Keys{name: name, sign: sign}
	for _, key := range keys {
		switch {
		case key.ID == 0:
			return nil, errors.New("key id 0: ids run from 1")
		case slices.Contains(k.ids, key.ID):
			return nil, fmt.Errorf("key id %d appears twice", key.ID)
		case len(key.Secret) < MinSecretLen:
			return nil, fmt.Errorf("key %d: secret of %d bytes, at least %d (%d hex digits) needed: generate one with openssl rand -hex 32",
				key.ID, len(key.Secret), MinSecretLen, 2*MinSecretLen)
		case len(key.Secret) > MaxSecretLen:
			return nil, fmt.Errorf("key %d: secret of %d bytes, at most %d", key.ID, len(key.Secret), MaxSecretLen)
		case allZero(key.Secret):
			return nil, fmt.Errorf("key %d: secret is all zeros, a placeholder: generate one with openssl rand -hex 32", key.ID)
		}
		k.ids = append(k.ids, key.ID)
		k.macKeys = append(k.macKeys, deriveMACKey(key.Secret))
	}
	switch {
	case sign == 0 && len(k.ids) == 1:
		k.sign = k.ids[0]
	case sign != 0 && !slices.Contains(k.ids, sign):
		return nil, fmt.Errorf("sign = %d, but no key has id %d (ids: %s)", sign, sign, joinIDs(k.ids))
	}
	return k, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// IDs returns the key ids, in file order.
func (k *Keys) IDs() []uint32 { return slices.Clone(k.ids) }

// SignID returns the id a Signer signs with: the file's sign, or its only
// key; 0 when the file holds several keys and names none.
func (k *Keys) SignID() uint32 { return k.sign }

// Warnings returns what is wrong with the key file but does not stop it
// from loading (a mode that lets others read it). Print them.
func (k *Keys) Warnings() []string { return slices.Clone(k.warnings) }

// String describes the key set without its secrets: "keys.toml: key ids 1, 2; signs with 2".
func (k *Keys) String() string {
	s := fmt.Sprintf("%s: key ids %s", k.name, joinIDs(k.ids))
	if k.sign != 0 {
		s += fmt.Sprintf("; signs with %d", k.sign)
	}
	return s
}

// GoString keeps %#v from printing the MAC keys.
func (k *Keys) GoString() string { return "auth.Keys{" + k.String() + "}" }

// macKey returns the MAC key of id, or nil.
func (k *Keys) macKey(id uint32) []byte {
	if i := slices.Index(k.ids, id); i >= 0 {
		return k.macKeys[i]
	}
	return nil
}

func joinIDs(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ", ")
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
