package lab

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
)

func init() {
	helpers["zmqpub"] = zmqPub
	helpers["zmqsub"] = zmqSub
}

// zmqpub -endpoint E -rate R publishes "seq N" for N = 0, 1, ... on a PUB
// socket connected to E until killed, -batch messages every -interval.
// PGM has no handshake, so it keeps sending until the subscribers had
// enough.
func zmqPub(args []string) error {
	fs := flag.NewFlagSet("zmqpub", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "epgm:// or pgm:// endpoint")
	rate := fs.Int("rate", 100000, "ZMQ_RATE, kbit/s")
	batch := fs.Int("batch", 2, "messages per interval")
	interval := fs.Duration("interval", time.Millisecond, "pause between batches")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pub, err := zmq.NewSocket(zmq.PUB)
	if err != nil {
		return err
	}
	defer pub.Close()
	if err := pub.SetRate(*rate); err != nil {
		return fmt.Errorf("set rate: %w", err)
	}
	if err := pub.SetLinger(0); err != nil {
		return err
	}
	if err := pub.Connect(*endpoint); err != nil {
		return fmt.Errorf("connect %s: %w", *endpoint, err)
	}
	fmt.Println("sending")
	for seq := 0; ; {
		for range *batch {
			if _, err := pub.Send("seq "+strconv.Itoa(seq), 0); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			seq++
		}
		time.Sleep(*interval) // pacing below the rate limit, not synchronisation
	}
}

// zmqsub -endpoint E -count N receives on a SUB socket connected to E until
// N messages arrived, counting from the first one, or -timeout passed. It
// prints "result count=.. first=.. last=.. gaps=.. dups=..".
func zmqSub(args []string) error {
	fs := flag.NewFlagSet("zmqsub", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "epgm:// or pgm:// endpoint")
	count := fs.Int("count", 1000, "messages to receive")
	timeout := fs.Duration("timeout", time.Minute, "give up after this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sub, err := zmq.NewSocket(zmq.SUB)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := sub.SetLinger(0); err != nil {
		return err
	}
	if err := sub.SetRcvtimeo(250 * time.Millisecond); err != nil {
		return err
	}
	if err := sub.SetSubscribe(""); err != nil {
		return err
	}
	if err := sub.Connect(*endpoint); err != nil {
		return fmt.Errorf("connect %s: %w", *endpoint, err)
	}
	fmt.Println("ready")
	var n, first, prev, gaps, dups int
	deadline := time.Now().Add(*timeout)
	for n < *count && time.Now().Before(deadline) {
		msg, err := sub.Recv(0)
		if zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN) || zmq.AsErrno(err) == zmq.Errno(syscall.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("recv: %w", err)
		}
		seq, err := strconv.Atoi(strings.TrimPrefix(msg, "seq "))
		if err != nil {
			return fmt.Errorf("bad message %q", msg)
		}
		switch {
		case n == 0:
			first = seq
		case seq <= prev:
			dups++
		case seq > prev+1:
			gaps += seq - prev - 1
		}
		prev = seq
		n++
	}
	fmt.Printf("result count=%d first=%d last=%d gaps=%d dups=%d\n", n, first, prev, gaps, dups)
	if n < *count {
		return fmt.Errorf("received %d of %d messages within %v", n, *count, *timeout)
	}
	return nil
}

func TestEPGM(t *testing.T) {
	t.Parallel()
	if !zmq.HasPgm() {
		t.Fatal("libzmq was built without PGM support; install a libzmq with --with-pgm (Debian's has it)")
	}
	l := newLab(t, Config{Name: "ltpgm", Net: testNet})
	const want = 1000
	for line := range l.Config().Lines {
		t.Run("line"+LineName(line), func(t *testing.T) {
			var subs []*proc
			for _, sub := range l.Subs() {
				p := startHelper(t, l, sub, "zmqsub", "-endpoint", l.Endpoint("epgm", sub, line),
					"-count", strconv.Itoa(want), "-timeout", "60s")
				p.waitLine(t, "ready", 10*time.Second)
				subs = append(subs, p)
			}
			pub := startHelper(t, l, l.Pub(), "zmqpub", "-endpoint", l.Endpoint("epgm", l.Pub(), line), "-rate", "100000")
			pub.waitLine(t, "sending", 10*time.Second)
			for _, p := range subs {
				out, err := p.wait(t, 90*time.Second)
				if err != nil {
					t.Fatalf("%s: %v; stderr: %s; publisher stderr: %s", p.desc, err, p.stderr.String(), pub.stderr.String())
				}
				var result string
				for _, s := range out {
					if strings.HasPrefix(s, "result ") {
						result = s
					}
				}
				var n, first, last, gaps, dups int
				if _, err := fmt.Sscanf(result, "result count=%d first=%d last=%d gaps=%d dups=%d", &n, &first, &last, &gaps, &dups); err != nil {
					t.Fatalf("%s: bad output %q: %v", p.desc, out, err)
				}
				if n != want || gaps != 0 || dups != 0 || last-first+1 != want {
					t.Errorf("%s: %s; want %d consecutive messages", p.desc, result, want)
				}
				t.Logf("%s: %s", p.desc, result)
			}
		})
	}
}
