package auth

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	hex1 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	hex2 = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

func TestParseKeys(t *testing.T) {
	data := `# feedbus group keys
sign = 2

[[key]]
id = 1
secret = "` + hex1 + `"

[[key]]
id     = 2
secret = "` + strings.ToUpper(hex2) + `"
`
	k, err := ParseKeys("keys.toml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(k.IDs(), []uint32{1, 2}) || k.SignID() != 2 {
		t.Errorf("ids %v, sign %d; want [1 2], 2", k.IDs(), k.SignID())
	}
	if s := k.String(); s != "keys.toml: key ids 1, 2; signs with 2" {
		t.Errorf("String() = %q", s)
	}
	// Neither the secrets nor the MAC keys show in any print of Keys.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, k)
		for _, secret := range [][]byte{unhex(t, hex1), unhex(t, hex2), k.macKeys[0], k.macKeys[1]} {
			if strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", secret[:8])) || bytes.Contains([]byte(out), secret[:8]) {
				t.Errorf("%s of Keys shows key material: %s", verb, out)
			}
		}
	}

	// One key: it signs, without sign = ...
	k, err = ParseKeys("one.toml", []byte("[[key]]\nid = 9\nsecret = \""+hex1+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if k.SignID() != 9 {
		t.Errorf("sign id %d, want 9", k.SignID())
	}
	// Two keys and no sign: it verifies, but does not sign.
	k, err = ParseKeys("two.toml", []byte("[[key]]\nid = 1\nsecret = \""+hex1+"\"\n[[key]]\nid = 2\nsecret = \""+hex2+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if k.SignID() != 0 {
		t.Errorf("sign id %d, want 0", k.SignID())
	}
	if _, err := NewSigner(k); err == nil || !strings.Contains(err.Error(), "two.toml holds several keys (ids 1, 2) and no sign") {
		t.Errorf("NewSigner: %v", err)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := parseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseKeysErrors: each mistake gives a one-line error that says
// what is wrong and shows no secret.
func TestParseKeysErrors(t *testing.T) {
	key := func(id, secret string) string { return "[[key]]\nid = " + id + "\nsecret = \"" + secret + "\"\n" }
	for _, c := range []struct {
		name, data, want string
	}{
		{"short secret", key("1", hex1[:62]), "key 1: secret of 31 bytes, at least 32 (64 hex digits) needed"},
		{"duplicate id", key("1", hex1) + key("1", hex2), "key id 1 appears twice"},
		{"bad hex", key("1", hex1[:10]+"zz"+hex1[12:]), "key 1: secret is not hex: character 11 is not 0-9, a-f or A-F"},
		{"odd hex", key("1", hex1+"a"), "key 1: secret has an odd number of hex digits (65)"},
		{"unknown key", "[[key]]\nid = 1\nsecrte = \"" + hex1 + "\"\n", `unknown key "key.secrte"`},
		{"unknown top-level key", "window = 5\n" + key("1", hex1), `unknown key "window" (known: sign, [[key]] id, [[key]] secret)`},
		{"no keys", "sign = 1\n", "no [[key]]"},
		{"empty", "", "no [[key]]"},
		{"no id", "[[key]]\nsecret = \"" + hex1 + "\"\n", "[[key]] number 1 has no id"},
		{"no secret", "[[key]]\nid = 4\n", "key 4 has no secret"},
		{"id 0", key("0", hex1), "key id 0 out of range (1 to 4294967295)"},
		{"id too large", key("4294967296", hex1), "key id 4294967296 out of range"},
		{"negative id", key("-1", hex1), "key id -1 out of range"},
		{"sign unknown", "sign = 3\n" + key("1", hex1) + key("2", hex2), "sign = 3, but no key has id 3 (ids: 1, 2)"},
		{"sign 0", "sign = 0\n" + key("1", hex1), "sign = 0 out of range"},
		{"all zeros", key("1", strings.Repeat("0", 64)), "key 1: secret is all zeros"},
		{"too many keys", func() string {
			var s string
			for i := range MaxKeys + 1 {
				s += key(fmt.Sprint(i+1), hex1)
			}
			return s
		}(), "17 keys, at most 16"},
		{"single table", "[key]\nid = 1\nsecret = \"" + hex1 + "\"\n", "write each key as [[key]], with two brackets"},
		{"id as string", "[[key]]\nid = \"1\"\nsecret = \"" + hex1 + "\"\n", "keys.toml: toml:"},
		{"syntax", "[[key]\nid = 1\n", "keys.toml: toml: line 2"},
		{"unterminated secret", "[[key]]\nid = 1\nsecret = \"" + hex1 + "\n", "keys.toml: toml: line 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseKeys("keys.toml", []byte(c.data))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !errors.Is(err, ErrKeyFile) {
				t.Errorf("%q does not match ErrKeyFile", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not contain %q", msg, c.want)
			}
			if !strings.HasPrefix(msg, "auth: bad key file: keys.toml: ") {
				t.Errorf("error %q does not start with the file's name", msg)
			}
			for _, secret := range []string{hex1, hex2, hex1[:16], hex2[:16]} {
				if strings.Contains(strings.ToLower(msg), secret) {
					t.Errorf("error shows a secret: %q", msg)
				}
			}
			t.Log(msg)
		})
	}
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.toml")
	if err := os.WriteFile(path, []byte("[[key]]\nid = 1\nsecret = \""+hex1+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Warnings()) != 0 {
		t.Errorf("warnings for a 0600 file: %q", k.Warnings())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	k, err = LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := k.Warnings(); len(w) != 1 || !strings.Contains(w[0], "mode 0644") || !strings.Contains(w[0], "chmod 600 "+path) {
		t.Errorf("warnings for a 0644 file: %q", w)
	}
	if _, err := LoadKeys(filepath.Join(dir, "missing.toml")); !errors.Is(err, ErrKeyFile) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestNewKeysErrors(t *testing.T) {
	good := testSecret(1)
	for name, c := range map[string]struct {
		sign uint32
		keys []Key
	}{
		"none":         {0, nil},
		"id 0":         {0, []Key{{ID: 0, Secret: good}}},
		"short":        {0, []Key{{ID: 1, Secret: good[:31]}}},
		"long":         {0, []Key{{ID: 1, Secret: make([]byte, MaxSecretLen+1)}}},
		"duplicate":    {0, []Key{{ID: 1, Secret: good}, {ID: 1, Secret: good}}},
		"sign missing": {3, []Key{{ID: 1, Secret: good}}},
	} {
		if _, err := NewKeys(c.sign, c.keys...); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: %v, want ErrKeyFile", name, err)
		}
	}
}
