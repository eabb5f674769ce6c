package fanout

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// The memory figures in doc.go are the real sizes.
func TestDocSizes(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	for name, size := range map[string]uintptr{
		"item":  unsafe.Sizeof(item{}),
		"book":  unsafe.Sizeof(book{}),
		"cslot": unsafe.Sizeof(cslot{}),
	} {
		re := regexp.MustCompile(`sizeof\(` + name + `\)\s*=\s*(\d+) bytes`)
		m := re.FindStringSubmatch(doc)
		if m == nil {
			t.Errorf("doc.go does not state sizeof(%s)", name)
			continue
		}
		if m[1] != strconv.Itoa(int(size)) {
			t.Errorf("doc.go says sizeof(%s) = %s bytes, it is %d", name, m[1], size)
		}
	}
	item := int(unsafe.Sizeof(item{}))
	for _, want := range []string{
		"Workers × QueueLen × " + strconv.Itoa(item) + " B",
		"4 × " + strconv.Itoa(DefaultQueueLen) + " × " + strconv.Itoa(item) + " = " + thousands(4*DefaultQueueLen*item) + " bytes",
		"S × (" + strconv.Itoa(int(unsafe.Sizeof(book{}))) + " B",
		"C × (" + strconv.Itoa(int(unsafe.Sizeof(cslot{}))) + "-" + strconv.Itoa(2*int(unsafe.Sizeof(cslot{}))) + " B",
		"a " + strconv.Itoa(item) + "-byte copy",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc.go lacks %q", want)
		}
	}
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
