// Package pin pins rewards artefacts to IPFS through a kubo RPC endpoint and
// checks that kubo's CID equals the CID computed locally by tree.CID.
//
// Two layers:
//   - Kubo (a Pinner): one synchronous "add + pin" call over go-ipfs-api with the
//     add options that reproduce tree.CID (CIDv1, sha2-256, raw leaves, 1 MiB
//     fixed-size chunker, wrapped in a directory named after the file).
//   - Queue: an asynchronous, bounded queue in front of any Pinner. Submit never
//     blocks; a worker retries with exponential backoff within a per-attempt
//     timeout and an overall deadline, and keeps a Status per artefact
//     (queued, pinning, pinned, mismatch, failed).
package pin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	files "github.com/ipfs/boxo/files"
	shell "github.com/ipfs/go-ipfs-api"
	"github.com/rs/zerolog"
)

// Pinner stores data under a file name on IPFS and keeps it pinned. It returns
// the CID the IPFS node reports for the artefact (for Kubo: the CID of the
// one-entry directory that wraps the file, the same object tree.CID hashes).
type Pinner interface {
	Pin(ctx context.Context, name string, data []byte) (string, error)
}

// Add options that make kubo build the same DAG as tree.CID (formats.md §6).
// kubo's default of 174 links per file node equals the reference's 1024 for
// files up to 174 MiB; rewards artefacts are far below that, and any larger
// file that differed would be reported as a mismatch rather than silently
// accepted.
var addOptions = []struct{ key, value string }{
	{"cid-version", "1"},
	{"hash", "sha2-256"},
	{"raw-leaves", "true"},
	{"chunker", "size-1048576"},
	{"wrap-with-directory", "true"},
	{"pin", "true"},
	{"quieter", "false"},
}

// Kubo is a Pinner backed by a kubo RPC endpoint (go-ipfs-api).
type Kubo struct {
	log     zerolog.Logger
	sh      *shell.Shell
	url     string
	timeout time.Duration
}

type kuboParameters struct {
	log     zerolog.Logger
	url     string
	timeout time.Duration
	client  *http.Client
}

// KuboParameter configures NewKubo.
type KuboParameter func(*kuboParameters)

// WithKuboLogger sets the parent logger.
func WithKuboLogger(l zerolog.Logger) KuboParameter {
	return func(p *kuboParameters) { p.log = l }
}

// WithKuboURL sets the kubo RPC address (required), e.g. "http://127.0.0.1:5001".
func WithKuboURL(u string) KuboParameter { return func(p *kuboParameters) { p.url = u } }

// WithKuboTimeout bounds each RPC call (default 60 s).
func WithKuboTimeout(d time.Duration) KuboParameter {
	return func(p *kuboParameters) { p.timeout = d }
}

// WithKuboHTTPClient replaces the HTTP client (default: no keep-alive, no proxy).
func WithKuboHTTPClient(c *http.Client) KuboParameter {
	return func(p *kuboParameters) { p.client = c }
}

// NewKubo returns a Pinner talking to the kubo RPC API at the configured URL.
// It does not contact kubo; use Check for that.
func NewKubo(_ context.Context, params ...KuboParameter) (*Kubo, error) {
	p := &kuboParameters{log: zerolog.Nop(), timeout: 60 * time.Second}
	for _, f := range params {
		if f != nil {
			f(p)
		}
	}
	if p.url == "" {
		return nil, errors.New("problem with parameters: no kubo RPC URL specified")
	}
	u, err := url.Parse(p.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("problem with parameters: invalid kubo RPC URL %q (want http://host:port)", redactURL(p.url))
	}
	if u.User != nil {
		return nil, errors.New("problem with parameters: credentials in the kubo RPC URL are not supported")
	}
	if p.timeout <= 0 {
		return nil, errors.New("problem with parameters: kubo timeout must be positive")
	}
	c := p.client
	if c == nil {
		c = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	base := strings.TrimRight(p.url, "/")
	sh := shell.NewShellWithClient(base, c)
	sh.SetTimeout(p.timeout)
	return &Kubo{
		log:     p.log.With().Str("service", "pin").Str("kubo", u.Scheme+"://"+u.Host).Logger(),
		sh:      sh,
		url:     base,
		timeout: p.timeout,
	}, nil
}

// addEntry is one line of kubo's streamed "add" answer.
type addEntry struct {
	Name string `json:"Name"`
	Hash string `json:"Hash"`
	Size string `json:"Size"`
}

// Pin adds data as a file called name, wrapped in a directory, pins it
// recursively and returns the directory's CID.
func (k *Kubo) Pin(ctx context.Context, name string, data []byte) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	dir := files.NewSliceDirectory([]files.DirEntry{files.FileEntry(name, files.NewBytesFile(data))})
	// form=true: multipart/form-data; rawAbsPath=false: kubo ≥ 0.23 expects
	// %-encoded paths (our names are plain ASCII either way).
	body := files.NewMultiFileReader(dir, true, false)
	rb := k.sh.Request("add")
	for _, o := range addOptions {
		rb.Option(o.key, o.value)
	}
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	resp, err := rb.Body(body).Send(ctx)
	if err != nil {
		return "", fmt.Errorf("kubo add %s: %w", name, err)
	}
	defer func() { _ = resp.Close() }()
	if resp.Error != nil {
		return "", fmt.Errorf("kubo add %s: %w", name, resp.Error)
	}
	dec := json.NewDecoder(resp.Output)
	var dirCID, fileCID string
	for {
		var e addEntry
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("kubo add %s: decode answer: %w", name, err)
		}
		switch e.Name {
		case "":
			dirCID = e.Hash
		case name:
			fileCID = e.Hash
		}
	}
	if dirCID == "" {
		return "", fmt.Errorf("kubo add %s: no directory CID in the answer (file CID %q)", name, fileCID)
	}
	k.log.Debug().Str("artefact", name).Str("cid", dirCID).Str("file_cid", fileCID).Int("bytes", len(data)).Msg("Added and pinned")
	return dirCID, nil
}

// Check asks kubo for its version (a cheap liveness probe for health checks).
func (k *Kubo) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	var out struct{ Version string }
	if err := k.sh.Request("version").Exec(ctx, &out); err != nil {
		return fmt.Errorf("kubo version: %w", err)
	}
	if out.Version == "" {
		return errors.New("kubo version: empty answer")
	}
	return nil
}

// Pinned reports whether kubo holds a recursive pin on c.
func (k *Kubo) Pinned(ctx context.Context, c string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	var out struct {
		Keys map[string]struct{ Type string }
	}
	err := k.sh.Request("pin/ls", c).Option("type", "recursive").Exec(ctx, &out)
	if err != nil {
		var se *shell.Error
		if errors.As(err, &se) && strings.Contains(se.Message, "not pinned") {
			return false, nil
		}
		return false, fmt.Errorf("kubo pin/ls %s: %w", c, err)
	}
	_, ok := out.Keys[c]
	return ok, nil
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("invalid artefact name %q: want a plain file name", name)
	}
	return nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("redacted")
	return u.String()
}
