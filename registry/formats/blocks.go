package formats

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
)

// BlockType is what kind of service a thousands-block (NPA-NXX-X) is assigned to.
type BlockType uint8

// The block types; 0 is no data.
const (
	Wireless BlockType = iota + 1
	Landline
	VoIP
	Pager
	Mixed
)

var blockTypeNames = [...]string{Wireless: "wireless", Landline: "landline", VoIP: "voip", Pager: "pager", Mixed: "mixed"}

func (t BlockType) String() string {
	if int(t) < len(blockTypeNames) && t != 0 {
		return blockTypeNames[t]
	}
	return "none"
}

// ParseBlockType reads a type word or a VICIdial code: C (cell), S (standard
// landline), V (VoIP), P (pager), M (mixed).
func ParseBlockType(s string) (BlockType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "wireless", "c":
		return Wireless, nil
	case "landline", "s":
		return Landline, nil
	case "voip", "v":
		return VoIP, nil
	case "pager", "p":
		return Pager, nil
	case "mixed", "m":
		return Mixed, nil
	}
	return 0, fmt.Errorf("type %q is not wireless, landline, voip, pager or mixed (or a code C, S, V, P, M)", s)
}

// Block is one assignment: a thousands-block, or a whole exchange when X is -1.
type Block struct {
	Exchange uint32 // NPA-NXX, 200200..999999
	X        int8   // the thousands digit 0-9, or -1: every block of the exchange
	Type     BlockType
	State    string // two letters, "" when the file does not say
}

// BlockColumns are the columns of a blocks file with a header: the area code
// and exchange in two columns (npa, nxx: 202,555), in one (npa-nxx:
// 202-555 or 202555), with the thousands digit (npa-nxx-x: 202-555-0), or
// the area code and VICIdial's prefix (npa, prefix: 202,5550 or 202,555).
var BlockColumns = []Column{
	{Name: "npa", Required: true, Aliases: []string{"area_code", "npa_code"}, Instead: []string{"npa-nxx", "npa-nxx-x"}},
	{Name: "nxx", Required: true, Aliases: []string{"exchange", "exchange_code", "nxx_code", "co_code", "central_office_code"}, Instead: []string{"prefix", "npa-nxx", "npa-nxx-x"}},
	{Name: "x", Aliases: []string{"block", "block_id", "thousands", "thousands_block"}},
	{Name: "type", Required: true, Aliases: []string{"ltype", "line_type", "number_type", "phone_type", "service_type", "block_type"}},
	{Name: "state", Aliases: []string{"st", "state_code", "state_abbr", "province"}},
	{Name: "npa-nxx"},
	{Name: "npa-nxx-x"},
	{Name: "prefix", Aliases: []string{"nxx-x"}},
}

// vicidialPositions are the columns of VICIdial's prefix file without a
// header: areacode,prefix(NXX or NXX+X),source,type,...
var vicidialPositions = map[string]int{"npa": 1, "prefix": 2, "type": 4}

// ReadBlocks reads a blocks file: CSV with a header naming the columns of
// BlockColumns (or their aliases; renamed through mapping), or VICIdial's
// prefix file without a header. It reports which of the two it read.
func ReadBlocks(r io.Reader, name string, mapping Mapping, fn func(Block) error) (string, error) {
	br, err := textReader(r, name)
	if err != nil {
		return "", err
	}
	row := func(row *Row) error {
		b, err := blockOf(row)
		if err != nil {
			return err
		}
		return fn(b)
	}
	if hasHeader(firstLine(br)) {
		return "blocks csv", ReadTable(br, name, BlockColumns, mapping, row)
	}
	return "vicidial prefix file", ReadPositional(br, name, vicidialPositions, mapping, row)
}

// firstLine peeks at the first line that is neither blank nor a '#' comment.
func firstLine(br *bufio.Reader) []byte {
	head, _ := br.Peek(sampleSize)
	for _, l := range sample(head, true) {
		return l.text
	}
	return nil
}

// hasHeader tells a header line from a data line: its first field is not a number.
func hasHeader(line []byte) bool {
	field, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(","))
	field = bytes.Trim(field, "\" ")
	if len(field) == 0 {
		return false
	}
	for _, c := range field {
		if c < '0' || c > '9' {
			return true
		}
	}
	return false
}

// blockOf reads a row's block from whichever columns the file has: npa and
// nxx (and x), npa-nxx-x, npa-nxx (and x), or npa and prefix (NXX or NXX+X).
func blockOf(row *Row) (Block, error) {
	npa, nxx, x := row.Get("npa"), row.Get("nxx"), row.Get("x")
	switch {
	case row.Has("npa") && row.Has("nxx"):
	case row.Has("npa-nxx-x"):
		v := withoutSeparators(row.Get("npa-nxx-x"))
		if len(v) != 7 {
			return Block{}, row.Errorf("npa-nxx-x %q is not NPA-NXX-X (7 digits)", row.Get("npa-nxx-x"))
		}
		npa, nxx, x = v[:3], v[3:6], v[6:]
	case row.Has("npa-nxx"):
		v := withoutSeparators(row.Get("npa-nxx"))
		if len(v) != 6 {
			return Block{}, row.Errorf("npa-nxx %q is not NPA-NXX (6 digits)", row.Get("npa-nxx"))
		}
		npa, nxx = v[:3], v[3:]
	default:
		prefix := withoutSeparators(row.Get("prefix"))
		if len(prefix) != 3 && len(prefix) != 4 {
			return Block{}, row.Errorf("prefix %q is not NXX or NXX+X (3 or 4 digits)", row.Get("prefix"))
		}
		nxx = prefix[:3]
		if len(prefix) == 4 {
			x = prefix[3:]
		}
	}
	code, err := digits(npa + nxx)
	if err != nil || len(npa) != 3 || len(nxx) != 3 || npa[0] < '2' || nxx[0] < '2' {
		return Block{}, row.Errorf("%q-%q is not an area code and exchange (NPA, NXX: 3 digits each, starting with 2-9)", npa, nxx)
	}
	// The numbering plan's rules, as for the lists: an N11 or reserved code holds no block.
	if err := number.CheckExchange(uint32(code)); err != nil {
		return Block{}, row.Errorf("%s-%s: %v", npa, nxx, err)
	}
	b := Block{Exchange: uint32(code), X: -1, State: strings.ToUpper(row.Get("state"))}
	if x != "" {
		if len(x) != 1 || x[0] < '0' || x[0] > '9' {
			return Block{}, row.Errorf("x %q is not a thousands digit 0-9", x)
		}
		b.X = int8(x[0] - '0')
	}
	if b.Type, err = ParseBlockType(row.Get("type")); err != nil {
		return Block{}, row.Errorf("%v", err)
	}
	if b.State != "" && (len(b.State) != 2 || b.State[0] < 'A' || b.State[0] > 'Z' || b.State[1] < 'A' || b.State[1] > 'Z') {
		return Block{}, row.Errorf("state %q is not a two-letter code", b.State)
	}
	return b, nil
}

// codeSeparators are the dashes, dots and spaces of a code written 202-555-0.
var codeSeparators = strings.NewReplacer("-", "", ".", "", " ", "")

func withoutSeparators(s string) string { return codeSeparators.Replace(s) }

func digits(s string) (int, error) {
	v := 0
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not digits", s)
		}
		v = v*10 + int(c-'0')
	}
	return v, nil
}
