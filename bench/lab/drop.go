package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// The nftables objects the lab owns inside each host namespace: table
// "inet feedlab" with a counter "dropped" and one base chain per NIC,
// "in_<nic>", hooked at prerouting with priority raw (-300).
const (
	nftTable   = "feedlab"
	nftCounter = "dropped"
)

// DropRandom drops percent% of the packets arriving on h's NIC nic (rule
// "numgen random mod 100 < percent drop"), replacing any earlier drop rule
// for that NIC. percent 0 removes the rule, 100 is DropAll.
func (l *Lab) DropRandom(ctx context.Context, h Host, nic string, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("%w: drop percent %d not in 0..100", ErrConfig, percent)
	}
	match := ""
	if percent < 100 {
		match = fmt.Sprintf("numgen random mod 100 < %d ", percent)
	}
	return l.setDropRule(ctx, h, nic, percent > 0, match)
}

// DropAll drops every packet arriving on h's NIC nic, replacing any earlier
// drop rule for that NIC.
func (l *Lab) DropAll(ctx context.Context, h Host, nic string) error {
	return l.setDropRule(ctx, h, nic, true, "")
}

// DropMulticast drops every multicast packet arriving on h's NIC nic
// (rule "ip daddr 224.0.0.0/4 drop"), replacing any earlier drop rule for
// that NIC: the feed's lines go dark while unicast, such as a recovery
// server's TCP, still flows.
func (l *Lab) DropMulticast(ctx context.Context, h Host, nic string) error {
	return l.setDropRule(ctx, h, nic, true, "ip daddr 224.0.0.0/4 ")
}

func (l *Lab) setDropRule(ctx context.Context, h Host, nic string, drop bool, match string) error {
	m, err := l.member(h)
	if err != nil {
		return err
	}
	known := false
	for _, n := range m.NICs {
		known = known || n.Name == nic
	}
	if !known {
		return fmt.Errorf("%w: %s has no NIC %q", ErrUnknownNIC, m.Name, nic)
	}
	chain := "in_" + nic
	var b strings.Builder
	fmt.Fprintf(&b, "add table inet %s\n", nftTable)
	fmt.Fprintf(&b, "add counter inet %s %s\n", nftTable, nftCounter)
	fmt.Fprintf(&b, "add chain inet %s %s { type filter hook prerouting priority raw; policy accept; }\n", nftTable, chain)
	fmt.Fprintf(&b, "flush chain inet %s %s\n", nftTable, chain)
	if drop {
		fmt.Fprintf(&b, "add rule inet %s %s iifname %q %scounter name %s drop\n", nftTable, chain, nic, match, nftCounter)
	}
	return l.nft(ctx, m, b.String(), "-f", "-")
}

// ClearDrops removes all of the lab's drop rules in h. The dropped counter
// keeps its value.
func (l *Lab) ClearDrops(ctx context.Context, h Host) error {
	m, err := l.member(h)
	if err != nil {
		return err
	}
	// "add table" first makes the flush work when no rule was ever set.
	return l.nft(ctx, m, fmt.Sprintf("add table inet %[1]s\nflush table inet %[1]s\n", nftTable), "-f", "-")
}

// Dropped returns the number of packets the lab's drop rules have dropped
// in h so far (0 if none was ever set). ClearDrops does not reset it; Up
// does, since it rebuilds the namespaces.
func (l *Lab) Dropped(ctx context.Context, h Host) (uint64, error) {
	m, err := l.member(h)
	if err != nil {
		return 0, err
	}
	nft, err := tool("nft")
	if err != nil {
		return 0, err
	}
	out, err := run(ctx, "", l.ip, "netns", "exec", m.Netns, nft, "-j", "list", "ruleset", "inet")
	if err != nil {
		return 0, fmt.Errorf("lab: on %s: %w", m.Name, err)
	}
	var rs struct {
		Nftables []struct {
			Counter *struct {
				Table   string `json:"table"`
				Name    string `json:"name"`
				Packets uint64 `json:"packets"`
			} `json:"counter"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &rs); err != nil {
		return 0, fmt.Errorf("lab: on %s: parsing nft -j output: %w", m.Name, err)
	}
	for _, o := range rs.Nftables {
		if c := o.Counter; c != nil && c.Table == nftTable && c.Name == nftCounter {
			return c.Packets, nil
		}
	}
	return 0, nil
}

// nft runs nft with args and script on stdin inside m's namespace.
func (l *Lab) nft(ctx context.Context, m Host, script string, args ...string) error {
	nft, err := tool("nft")
	if err != nil {
		return err
	}
	if _, err := run(ctx, script, l.ip, append([]string{"netns", "exec", m.Netns, nft}, args...)...); err != nil {
		return fmt.Errorf("lab: on %s: %w", m.Name, err)
	}
	return nil
}
