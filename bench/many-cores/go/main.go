// sfs_go: the SFS-like server of bench/many-cores in Go, the peer of sfs_cpc (README.md in
// the parent directory has the protocol). Standard library only: the harness builds it with
// Debian's golang-go and no module download.
//
//	sfs_go -port P [-bind 127.0.0.1]    (GOMAXPROCS sets the cores it uses)
//
// A goroutine per connection. A request's work (the SHA-256 rounds, then the file's counter)
// runs holding the file's mutex, Go's form of a color: the requests of one file never
// overlap, those of different files run in parallel.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"net"
	"os"
	"sync"
)

const (
	files        = 16
	fileSize     = 1 << 20
	minLength    = 16384
	maxLength    = 65536
	maxRounds    = 256
	requestSize  = 16
	responseSize = 48
)

type request struct{ file, block, length, rounds uint32 }

type fileState struct {
	mu     sync.Mutex
	served uint64 // guarded by mu
}

type service struct {
	data  []byte
	state [files]fileState
}

// The files: splitmix64 seeded with file + 1, each output little-endian.
func makeFiles() []byte {
	data := make([]byte, files*fileSize)
	for f := 0; f < files; f++ {
		state := uint64(f + 1)
		p := data[f*fileSize : (f+1)*fileSize]
		for i := 0; i < fileSize; i += 8 {
			state += 0x9E3779B97F4A7C15
			z := state
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
			z = (z ^ (z >> 27)) * 0x94D049BB133111EB
			binary.LittleEndian.PutUint64(p[i:], z^(z>>31))
		}
	}
	return data
}

func decode(b []byte) (request, bool) {
	r := request{binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]),
		binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])}
	ok := r.file < files && r.length >= minLength && r.length <= maxLength && r.rounds >= 1 &&
		r.rounds <= maxRounds
	return r, ok
}

// compute: rounds passes of SHA-256 over the block, the first prefixed by "cpc-sfs", the
// file and the block number, each next one by the previous digest.
func (s *service) compute(h hash.Hash, r request, out []byte) {
	offset := (uint64(r.block) * 4096) % (fileSize - maxLength)
	start := uint64(r.file)*fileSize + offset
	block := s.data[start : start+uint64(r.length)]
	var head [15]byte
	copy(head[:], "cpc-sfs")
	binary.LittleEndian.PutUint32(head[7:], r.file)
	binary.LittleEndian.PutUint32(head[11:], r.block)
	var digest [32]byte
	for i := uint32(0); i < r.rounds; i++ {
		h.Reset()
		if i == 0 {
			h.Write(head[:])
		} else {
			h.Write(digest[:])
		}
		h.Write(block)
		h.Sum(digest[:0])
	}
	copy(out, digest[:])
}

func (s *service) serve(c net.Conn) {
	defer c.Close()
	h := sha256.New()
	var in [requestSize]byte
	var out [responseSize]byte
	for {
		if _, err := io.ReadFull(c, in[:]); err != nil {
			return
		}
		r, ok := decode(in[:])
		if !ok {
			return // a client that does not speak the protocol is dropped
		}
		f := &s.state[r.file]
		f.mu.Lock()
		s.compute(h, r, out[16:])
		f.served++
		served := f.served
		f.mu.Unlock()
		binary.LittleEndian.PutUint32(out[0:], r.file)
		binary.LittleEndian.PutUint32(out[4:], r.block)
		binary.LittleEndian.PutUint64(out[8:], served)
		if _, err := c.Write(out[:]); err != nil {
			return
		}
	}
}

func main() {
	port := flag.Int("port", 0, "TCP port")
	bind := flag.String("bind", "127.0.0.1", "IPv4 address")
	flag.Parse()
	s := &service{data: makeFiles()}
	l, err := net.Listen("tcp4", fmt.Sprintf("%s:%d", *bind, *port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sfs: listening on %s:%d\n", *bind, *port)
	os.Stdout.Sync()
	for {
		c, err := l.Accept()
		if err != nil {
			log.Printf("accept: %v", err)
			continue
		}
		go s.serve(c)
	}
}
