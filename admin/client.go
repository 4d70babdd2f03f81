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

// Import asks the server to import files it reads itself: paths must be absolute.
func (c *Client) Import(ctx context.Context, req registry.ImportRequest) (registry.ListInfo, error) {
	var info registry.ListInfo
	err := c.do(ctx, http.MethodPost, pathImport, nil, req, &info)
	return info, err
}

// Lookup returns the lists that hold the E.164 number.
func (c *Client) Lookup(e164 string) ([]registry.Listing, error) {
	var listings []registry.Listing
	err := c.get(pathLookup, url.Values{"number": {e164}}, &listings)
	return listings, err
}

// Lists returns the current version of every list.
func (c *Client) Lists() ([]registry.ListInfo, error) {
	var lists []registry.ListInfo
	err := c.get(pathLists, nil, &lists)
	return lists, err
}

// Listed reports whether the E.164 number is on the named list.
func (c *Client) Listed(list, e164 string) (bool, error) {
	var answer listedAnswer
	err := c.get(pathListed, url.Values{"list": {list}, "number": {e164}}, &answer)
	return answer.Listed, err
}

// HasList reports whether the list has been imported; false when the server cannot be asked.
func (c *Client) HasList(list string) bool {
	lists, err := c.Lists()
	if err != nil {
		return false
	}
	for _, l := range lists {
		if l.Name == list {
			return true
		}
	}
	return false
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

// do sends one request; the server's error text comes back as the error, verbatim.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
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
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var answer errorAnswer
		if json.NewDecoder(resp.Body).Decode(&answer) != nil || answer.Error == "" {
			return fmt.Errorf("admin socket: %s %s: %s", method, path, resp.Status)
		}
		return errors.New(answer.Error)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
