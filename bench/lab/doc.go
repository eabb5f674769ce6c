// Package lab builds a multicast test lab out of Linux network namespaces,
// so feedbus can be exercised over ZeroMQ PGM/EPGM on two independent lines
// (A and B) on a single machine.
//
// # Topology
//
// A lab named N (Config.Name) consists of these network namespaces:
//
//	N-sw    the "switches": one Linux bridge per line, br0 (line A), br1 (line B), ...,
//	        with multicast snooping off so multicast is flooded to every port
//	N-pub   the publisher host
//	N-sub1  subscriber host 1, N-sub2, ... likewise
//
// Every host has one veth per line, named eth1 (line A), eth2 (line B), ...,
// like a real dual-NIC host. The peer end lives in N-sw, is named
// "N-<host>-<line>" and is a port of that line's bridge. Line L host H has
// the address 10.<Net>.<L+1>.<H>/24, where the publisher is host 1 and
// subscriber i is host 10+i. Each host also gets lo up, a multicast route
// 239.0.0.0/8 via eth1 (line A) for plain UDP senders that do not name an
// interface, rp_filter off, IPv6 off (fewer stray packets) and
// net.core.rmem_max/wmem_max raised to Config.BufMax where the kernel allows
// it. Recent kernels (6.18 here) show these two read-only in child
// namespaces, mirroring the root namespace, which the lab never changes; then
// they stay as inherited and [Lab.BufMax] tells the effective limit. Line L's multicast group is
// 239.<Net>.<L+1>.1 on port 5555+L (see [Lab.Group]); ports differ per line
// so sockets of the two lines in one process never see each other's traffic.
//
// PGM endpoints must name the interface by its IPv4 address, not its name
// (libpgm rejects names with EINVAL): use [Lab.Endpoint], which gives e.g.
// "epgm://10.77.1.1;239.77.1.1:5555". libzmq turns multicast loopback off for
// PGM, which is why publisher and subscribers are separate namespaces.
//
// # Safety
//
// Everything is created inside the lab's own namespaces; the root network
// namespace (its interfaces, routes and sysctls) is never modified, and no
// lab traffic can leave the machine because no lab device is connected to a
// real NIC. [Lab.Command] refuses to run anything for a Host that does not
// belong to the lab, so a zero or foreign Host can never fall back to the
// root namespace.
//
// # Lifetime
//
// A lab is kernel state named after Config.Name and outlives the process
// that made it. [Up] first removes any leftovers of a lab with the same
// Name (so it is idempotent and repairs half-built labs) and tears down
// everything it made if it fails. [Lab.Down] kills the processes still
// running inside the lab's namespaces and deletes the namespaces, which
// removes their veths, bridges and nftables tables; it is idempotent. Tests
// should call t.Cleanup(func() { l.Down() }). Another process can attach to a
// running lab with [Open], which reconstructs the hosts from the kernel state
// (cmd/feedlab does this for exec, drop, clear and status), and [Remove]
// deletes whatever exists of a lab by name, complete or not.
//
// # Concurrency
//
// A *Lab is immutable after Up or Open and its methods are safe for
// concurrent use. Labs with different Names share nothing and may be used in
// parallel, also from different processes (go test runs packages in
// parallel, so every test package must use its own Names). Two Labs with the
// same Name are the same lab: Up or Down through one destroys the other.
//
// # Loss injection
//
// [Lab.DropRandom], [Lab.DropAll] and [Lab.ClearDrops] install nftables rules
// in the table "inet feedlab" inside a host's namespace (prerouting hook,
// priority raw, so packets are dropped before any socket sees them), and
// [Lab.Dropped] reads the table's "dropped" counter.
//
// # Requirements
//
// Root, ip from iproute2, sh, and nft from nftables for the loss functions.
// [Available] tells whether a lab can be built here.
package lab
