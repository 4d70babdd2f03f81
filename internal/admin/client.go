package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Client talks to a running server's admin socket. It offers the registry's
// operations, so it also answers as a policy.Registry.
type Client struct {
	transport *http.Transport
	http      *http.Client
}

// requestTimeout bounds every call but an import, which runs as long as its context allows.
const requestTimeout = 30 * time.Second

// NewClient makes a client for the socket at socketPath; it connects on first use.
func NewClient(socketPath string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
	}
	return &Client{transport: tr, http: &http.Client{Transport: tr}}
}

// Ping tells whether a server answers on the socket.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, pathHealth, nil, nil, nil)
}

// Import asks the server to import files it reads itself: paths must be
// absolute. req.Progress, when set, is called with the server's progress reports.
func (c *Client) Import(ctx context.Context, req registry.ImportRequest) (registry.ListInfo, error) {
	var info registry.ListInfo
	err := c.stream(ctx, pathImport, req, func(dec *json.Decoder) error {
		for {
			var ev importEvent
			if err := dec.Decode(&ev); err != nil {
				return fmt.Errorf("admin socket: %w: %w", ErrNoAnswer, err)
			}
			switch {
			case ev.Error != "":
				return errors.New(ev.Error)
			case ev.Result != nil:
				info = *ev.Result
				return nil
			case ev.Progress != nil && req.Progress != nil:
				req.Progress(*ev.Progress)
			}
		}
	})
	return info, err
}

// Lookup tells what the registry knows of the E.164 number.
func (c *Client) Lookup(e164 string) (registry.Report, error) {
	var report registry.Report
	err := c.get(pathLookup, url.Values{"number": {e164}}, &report)
	return report, err
}

// Lists returns every list.
func (c *Client) Lists() ([]registry.ListInfo, error) {
	var lists []registry.ListInfo
	err := c.get(pathLists, nil, &lists)
	return lists, err
}

// Listed reports whether the E.164 number is on the named list, and the
// version of the list that answered.
func (c *Client) Listed(list, e164 string) (bool, uint64, error) {
	var answer listedAnswer
	err := c.get(pathListed, url.Values{"list": {list}, "number": {e164}}, &answer)
	return answer.Listed, answer.Version, err
}

// ListDate returns the list's version and the date its data is as of; ok is
// false when the list was never imported or the server cannot be asked.
func (c *Client) ListDate(list string) (uint64, time.Time, bool) {
	var answer listDateAnswer
	if err := c.get(pathListDate, url.Values{"list": {list}}, &answer); err != nil {
		return 0, time.Time{}, false
	}
	return answer.Version, answer.AsOf, answer.OK
}

// Version returns what the import with this id was, as recorded when it was made.
func (c *Client) Version(id uint64) (registry.ListInfo, error) {
	var info registry.ListInfo
	err := c.get(pathVersion, url.Values{"id": {strconv.FormatUint(id, 10)}}, &info)
	return info, err
}

// ChangeLive adds numbers to a list or removes them, on the server.
func (c *Client) ChangeLive(req registry.LiveRequest) ([]registry.Change, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var changes []registry.Change
	err := c.do(ctx, http.MethodPost, pathDNC, nil, req, &changes)
	return changes, err
}

// Attempts counts the attempts of a counter (see registry.Store.Attempts).
func (c *Client) Attempts(name string, from, to time.Time) (int, error) {
	var answer attemptsAnswer
	q := url.Values{"name": {name}, "from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}}
	err := c.get(pathAttempts, q, &answer)
	return answer.Count, err
}

// RecordAttempt records an attempt (see registry.Store.RecordAttempt).
func (c *Client) RecordAttempt(name string, at time.Time, keep time.Duration, most int) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return c.do(ctx, http.MethodPost, pathAttempts, nil, attemptRequest{Name: name, At: at, Keep: keep, Most: most}, nil)
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

func (c *Client) get(path string, query url.Values, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return c.do(ctx, http.MethodGet, path, query, nil, out)
}

// do sends one request and decodes its JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return c.send(ctx, method, path, query, in, func(dec *json.Decoder) error {
		if out == nil {
			return nil
		}
		return dec.Decode(out)
	})
}

// stream posts in and hands the answer's body to read.
func (c *Client) stream(ctx context.Context, path string, in any, read func(*json.Decoder) error) error {
	return c.send(ctx, http.MethodPost, path, nil, in, read)
}

// send sends one request; the server's error text comes back as the error, verbatim.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any, read func(*json.Decoder) error) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	// The host is never resolved: the transport always dials the socket.
	u := url.URL{Scheme: "http", Host: "gatekeeper", Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w: %w", ErrNoAnswer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var answer errorAnswer
		if json.NewDecoder(resp.Body).Decode(&answer) != nil || answer.Error == "" {
			return fmt.Errorf("admin socket: %s %s: %s", method, path, resp.Status)
		}
		return errors.New(answer.Error)
	}
	return read(json.NewDecoder(resp.Body))
}
