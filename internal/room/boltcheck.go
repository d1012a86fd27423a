package room

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
)

// bbolt trusts its file: a page that points at itself sends its cursor
// round forever, a page number past the end reads outside the mapping (a
// fault no recover catches in bbolt's own goroutines). checkBolt walks the
// file's structure the way bbolt would (the meta pages, the freelist, the
// tree of every bucket), with nothing but bounds-checked reads, before
// bbolt opens it. The layout is bbolt's on-disk format, version 2, in the
// machine's byte order (little-endian on amd64 and arm64).
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	elemSize       = 16
	flagBranch     = 0x01
	flagLeaf       = 0x02
	flagFreelist   = 0x10
	bucketLeafFlag = 0x01
	noFreelist     = ^uint64(0)
	// maxCheckedDB bounds the file checkBolt reads whole: a room of
	// MaxLearners is a few MiB.
	maxCheckedDB = 512 << 20
)

type boltMeta struct {
	pageSize            uint32
	root, freelist, hwm uint64
	txid                uint64
}

func readMeta(b []byte, off int) (boltMeta, bool) {
	if off < 0 || off+pageHeaderSize+64 > len(b) {
		return boltMeta{}, false
	}
	m := b[off+pageHeaderSize:]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return boltMeta{}, false
	}
	meta := boltMeta{pageSize: le.Uint32(m[8:]), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]), hwm: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	if ps := meta.pageSize; ps < 512 || ps > 64<<10 || ps&(ps-1) != 0 {
		return boltMeta{}, false
	}
	return meta, true
}

// checkBolt checks the bbolt file at path; an empty file is a new room.
func checkBolt(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		return nil // bbolt makes it, or says why not
	}
	if fi.Size() > maxCheckedDB {
		return fmt.Errorf("it is %d bytes, far more than a room holds", fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	m0, ok0 := readMeta(b, 0)
	off1 := os.Getpagesize()
	if ok0 {
		off1 = int(m0.pageSize)
	}
	m1, ok1 := readMeta(b, off1)
	var m boltMeta
	switch {
	case ok0 && ok1 && m0.pageSize != m1.pageSize:
		return errors.New("its two meta pages disagree on the page size")
	case ok0 && (!ok1 || m0.txid >= m1.txid):
		m = m0
	case ok1:
		m = m1
	default:
		return errors.New("neither meta page is valid")
	}
	c := &boltChecker{b: b, ps: uint64(m.pageSize), hwm: m.hwm, seen: map[uint64]bool{}}
	if m.hwm < 2 || m.hwm > uint64(len(b))/c.ps {
		return fmt.Errorf("it is %d bytes, shorter than the %d its pages take: it was cut off", len(b), m.hwm*c.ps)
	}
	if m.freelist != noFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return err
		}
	}
	return c.tree(m.root, 0)
}

type boltChecker struct {
	b       []byte
	ps, hwm uint64
	seen    map[uint64]bool
}

// page returns page id with its overflow pages, checking its header.
func (c *boltChecker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, fmt.Errorf("page %d is out of range", id)
	}
	if c.seen[id] {
		return nil, fmt.Errorf("page %d is reached twice", id)
	}
	c.seen[id] = true
	hdr := c.b[id*c.ps:]
	if binary.LittleEndian.Uint64(hdr) != id {
		return nil, fmt.Errorf("page %d says it is page %d", id, binary.LittleEndian.Uint64(hdr))
	}
	overflow := uint64(binary.LittleEndian.Uint32(hdr[12:]))
	if id+overflow >= c.hwm {
		return nil, fmt.Errorf("page %d runs past the end", id)
	}
	return c.b[id*c.ps : (id+overflow+1)*c.ps], nil
}

func (c *boltChecker) freelist(id uint64) error {
	p, err := c.page(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if binary.LittleEndian.Uint16(p[8:])&flagFreelist == 0 {
		return fmt.Errorf("freelist: page %d is not a freelist page", id)
	}
	count, start := uint64(binary.LittleEndian.Uint16(p[10:])), uint64(pageHeaderSize)
	if count == 0xFFFF {
		count, start = binary.LittleEndian.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > (uint64(len(p))-start)/8 {
		return fmt.Errorf("freelist: page %d lists more pages than it holds", id)
	}
	for i := range count {
		if f := binary.LittleEndian.Uint64(p[start+8*i:]); f < 2 || f >= c.hwm {
			return fmt.Errorf("freelist: page %d is out of range", f)
		}
	}
	return nil
}

// tree checks the bucket tree rooted at page id.
func (c *boltChecker) tree(id uint64, depth int) error {
	if depth > 64 {
		return errors.New("the page tree is deeper than bbolt makes it")
	}
	p, err := c.page(id)
	if err != nil {
		return err
	}
	return c.nodes(p, depth, func(child uint64) error { return c.tree(child, depth+1) })
}

// nodes checks the elements of one page (p: header and data) and descends
// into branch children and buckets.
func (c *boltChecker) nodes(p []byte, depth int, child func(uint64) error) error {
	le := binary.LittleEndian
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if pageHeaderSize+count*elemSize > len(p) {
		return errors.New("a page lists more elements than it holds")
	}
	for i := range count {
		e := pageHeaderSize + i*elemSize
		switch {
		case flags&flagBranch != 0:
			pos, ksize := int(le.Uint32(p[e:])), int(le.Uint32(p[e+4:]))
			if pos < 0 || ksize < 0 || e+pos+ksize > len(p) || e+pos+ksize < e {
				return errors.New("a branch key runs past its page")
			}
			if err := child(le.Uint64(p[e+8:])); err != nil {
				return err
			}
		case flags&flagLeaf != 0:
			lflags, pos, ksize, vsize := le.Uint32(p[e:]), int(le.Uint32(p[e+4:])), int(le.Uint32(p[e+8:])), int(le.Uint32(p[e+12:]))
			end := e + pos + ksize + vsize
			if pos < 0 || ksize < 0 || vsize < 0 || end > len(p) || end < e {
				return errors.New("a leaf key or value runs past its page")
			}
			if lflags&bucketLeafFlag == 0 {
				continue
			}
			v := p[e+pos+ksize : end]
			if len(v) < 16 {
				return errors.New("a bucket's header is cut short")
			}
			if root := le.Uint64(v); root != 0 {
				if err := c.tree(root, depth+1); err != nil {
					return err
				}
				continue
			}
			// An inline bucket: its page is inside the value.
			inline := v[16:]
			if len(inline) < pageHeaderSize || depth > 64 {
				return errors.New("an inline bucket is cut short")
			}
			if err := c.nodes(inline, depth+1, func(uint64) error { return errors.New("an inline bucket has a branch") }); err != nil {
				return err
			}
		default:
			return fmt.Errorf("a page of the tree is neither branch nor leaf (flags %#x)", flags)
		}
	}
	return nil
}
