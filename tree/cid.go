package tree

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// CID parameters of a rewards artefact (formats.md §6): the reference adds the
// file with boxo's fixed-size chunker of 1 MiB, raw leaves, the balanced
// layout with at most 1024 links per node and CIDv1 / sha2-256, then wraps it
// in a one-entry directory and reports the directory's CID.
const (
	cidChunkSize = 1 << 20
	cidMaxLinks  = 1024
)

// UnixFS node types (unixfs.proto Data.DataType).
const (
	unixfsDirectory = 1
	unixfsFile      = 2
)

// CID returns the IPFS CIDv1 (dag-pb, sha2-256; String() gives the base32
// "bafy…" form) of a one-entry UnixFS directory that holds data under name,
// exactly as the reference computes the CID of a rewards artefact.
//
// name is the file's base name (for example "rp-rewards-mainnet-20.json.zst");
// it must not be empty, ".", ".." or contain a '/'.
func CID(name string, data []byte) (cid.Cid, error) {
	t, err := buildCID(name, data, cidChunkSize, cidMaxLinks)
	if err != nil {
		return cid.Undef, err
	}
	return t.cid, nil
}

// CIDFile reads the file at path and returns CID(filepath.Base(path), contents).
func CIDFile(path string) (cid.Cid, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return cid.Undef, fmt.Errorf("read file for CID: %w", err)
	}
	return CID(filepath.Base(path), data)
}

// cidTrace holds the final CID and the intermediate values, so tests can
// compare every step against the vectors.
type cidTrace struct {
	leafCids  []cid.Cid
	fileNode  []byte // encoded top file node; nil when the file is a single raw leaf
	fileCid   cid.Cid
	fileTsize uint64
	dirNode   []byte
	cid       cid.Cid
}

// dagEntry is a node of the file DAG seen from its parent: its CID, the Tsize
// written in the parent's link (cumulative encoded size), and the number of
// file bytes below it (the parent's blocksizes entry).
type dagEntry struct {
	cid      cid.Cid
	tsize    uint64
	fileSize uint64
}

func buildCID(name string, data []byte, chunkSize, maxLinks int) (*cidTrace, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("compute CID: invalid file name %q (want a base name)", name)
	}
	if chunkSize <= 0 || maxLinks < 2 {
		return nil, errors.New("compute CID: invalid chunk size or link limit")
	}
	t := &cidTrace{}

	// Leaves: raw blocks of at most chunkSize bytes; an empty file is one empty chunk.
	nChunks := (len(data) + chunkSize - 1) / chunkSize
	if nChunks == 0 {
		nChunks = 1
	}
	level := make([]dagEntry, 0, nChunks)
	t.leafCids = make([]cid.Cid, 0, nChunks)
	for i := 0; i < nChunks; i++ {
		start := i * chunkSize
		end := min(start+chunkSize, len(data))
		c, err := sumCID(cid.Raw, data[start:end])
		if err != nil {
			return nil, fmt.Errorf("compute CID of chunk %d: %w", i, err)
		}
		t.leafCids = append(t.leafCids, c)
		n := uint64(end - start)
		level = append(level, dagEntry{cid: c, tsize: n, fileSize: n})
	}

	// Balanced layout: while more than one node remains, group the current
	// level left to right into parents of at most maxLinks children. This gives
	// the same tree as boxo's balanced builder, which grows a full tree of
	// depth d before starting depth d+1. A lone leaf stays the file root.
	for len(level) > 1 {
		parents := make([]dagEntry, 0, (len(level)+maxLinks-1)/maxLinks)
		for start := 0; start < len(level); start += maxLinks {
			children := level[start:min(start+maxLinks, len(level))]
			node := encodeFileNode(children)
			c, err := sumCID(cid.DagProtobuf, node)
			if err != nil {
				return nil, fmt.Errorf("compute CID of file node: %w", err)
			}
			e := dagEntry{cid: c, tsize: uint64(len(node))}
			for _, ch := range children {
				e.tsize += ch.tsize
				e.fileSize += ch.fileSize
			}
			parents = append(parents, e)
			t.fileNode = node // the last node built is the root
		}
		level = parents
	}
	t.fileCid = level[0].cid
	t.fileTsize = level[0].tsize

	t.dirNode = encodeDirNode(name, level[0])
	c, err := sumCID(cid.DagProtobuf, t.dirNode)
	if err != nil {
		return nil, fmt.Errorf("compute CID of directory node: %w", err)
	}
	t.cid = c
	return t, nil
}

func sumCID(codec uint64, block []byte) (cid.Cid, error) {
	digest := sha256.Sum256(block)
	mh, err := multihash.Encode(digest[:], multihash.SHA2_256)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(codec, mh), nil
}

// Hand-written protobuf encoding of the two small dag-pb messages, in the
// byte order boxo produces (formats.md §6):
//
//	PBNode  { repeated PBLink Links = 2; optional bytes Data = 1; }
//	        all Links (tag 0x12, length-delimited) are written FIRST, then Data (tag 0x0a).
//	PBLink  { bytes Hash = 1 (tag 0x0a, binary CID);
//	          string Name = 2 (tag 0x12, written even when empty: 12 00);
//	          uint64 Tsize = 3 (tag 0x18, varint) }
//	UnixFS Data { Type = 1 (tag 0x08, varint);
//	              filesize = 3 (tag 0x18, varint; files only);
//	              blocksizes = 4 (tag 0x20, varint, unpacked: one tag per value) }
//	No mode, no mtime, no hashType/fanout.
const (
	pbTagNodeData  = 0x0a // field 1, wire type 2
	pbTagNodeLinks = 0x12 // field 2, wire type 2
	pbTagLinkHash  = 0x0a // field 1, wire type 2
	pbTagLinkName  = 0x12 // field 2, wire type 2
	pbTagLinkTsize = 0x18 // field 3, wire type 0
	fsTagType      = 0x08 // field 1, wire type 0
	fsTagFilesize  = 0x18 // field 3, wire type 0
	fsTagBlocksize = 0x20 // field 4, wire type 0
)

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendBytesField(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = appendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendLink(node []byte, c cid.Cid, name string, tsize uint64) []byte {
	var link []byte
	link = appendBytesField(link, pbTagLinkHash, c.Bytes())
	link = appendBytesField(link, pbTagLinkName, []byte(name))
	link = append(link, pbTagLinkTsize)
	link = appendUvarint(link, tsize)
	return appendBytesField(node, pbTagNodeLinks, link)
}

func encodeFileNode(children []dagEntry) []byte {
	fs := []byte{fsTagType, unixfsFile}
	var total uint64
	for _, ch := range children {
		total += ch.fileSize
	}
	fs = append(fs, fsTagFilesize)
	fs = appendUvarint(fs, total)
	for _, ch := range children {
		fs = append(fs, fsTagBlocksize)
		fs = appendUvarint(fs, ch.fileSize)
	}
	node := make([]byte, 0, len(children)*48+len(fs)+4)
	for _, ch := range children {
		node = appendLink(node, ch.cid, "", ch.tsize)
	}
	return appendBytesField(node, pbTagNodeData, fs)
}

func encodeDirNode(name string, file dagEntry) []byte {
	node := appendLink(nil, file.cid, name, file.tsize)
	return appendBytesField(node, pbTagNodeData, []byte{fsTagType, unixfsDirectory})
}
