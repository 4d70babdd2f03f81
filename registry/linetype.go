package registry

import (
	"fmt"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// The line types the registry answers with.
const (
	LineMobile   = "mobile"
	LineLandline = "landline"
	LineVoIP     = "voip"
	LineUnknown  = "unknown"
)

// Where a line type answer came from (LineType.Source), in the order asked.
const (
	SourcePortedToWireless = KindWirelineToWireless // on the wireline-to-wireless port list
	SourcePortedToWireline = KindWirelessToWireline // on the wireless-to-wireline port list
	SourceLRNBlock         = "lrn-block"            // the block of the routing number of an LNP dip
	SourceBlock            = "block"                // the block of the dialed number
	SourcePhonenumbers     = "phonenumbers"         // libphonenumber's type, for numbers outside the NANP
	SourceNone             = "none"                 // nothing knew the number
)

// LineType is what kind of line a number is, with the evidence: which data
// set and version decided, and what it said.
type LineType struct {
	Type   string `json:"type"`   // mobile, landline, voip or unknown
	Source string `json:"source"` // see the Source constants
	// Detail is what the source said: the block's type (wireless, landline,
	// voip, pager, mixed), or phonenumbers' type.
	Detail string `json:"detail,omitempty"`
	// Block is the thousands-block that answered (of the routing number for lrn-block).
	Block   Block  `json:"block,omitzero"`
	Version uint64 `json:"version,omitempty"` // the import id of the data set that decided
	// NotPorted are the versions of the port lists asked before the answer
	// that do not hold the number, wireline-to-wireless then
	// wireless-to-wireline (0: not asked, or never imported).
	NotPorted [2]uint64 `json:"not_ported,omitzero"`
	State     string    `json:"state,omitempty"` // the block's state, where the block data gives one
	// PortedOn is the day a number on the wireline-to-wireless list was
	// ported, where the data tells it: the source date of the daily file
	// (imported with --delta) that added it. The 15-day safe harbor counts from it.
	PortedOn time.Time `json:"ported_on,omitzero"`
}

// LineType tells the line type of the E.164 number. routing is the routing
// number (LRN) of an LNP dip, "" without one. The order: the port lists, then
// the block of the routing number, then the block of the number, then
// phonenumbers for numbers outside the NANP, else unknown.
func (s *Store) LineType(e164, routing string) (LineType, error) {
	n := parseNum(e164)
	var notPorted [2]uint64
	for i, port := range []struct{ list, lineType string }{
		{KindWirelineToWireless, LineMobile}, // first: when both lists hold a number, mobile is the safe answer
		{KindWirelessToWireline, LineLandline},
	} {
		on, version, portedOn, err := s.ported(port.list, n)
		if err != nil {
			return LineType{}, err
		}
		if on {
			return LineType{Type: port.lineType, Source: port.list, Version: version, NotPorted: notPorted, PortedOn: portedOn}, nil
		}
		notPorted[i] = version
	}
	lt := s.notPortedLineType(n, e164, routing)
	lt.NotPorted = notPorted
	return lt, nil
}

// notPortedLineType answers for a number on no port list: from the block of
// the routing number, of the number, or (outside the NANP) phonenumbers. A
// NANP number no block knows is unknown by the block data's version.
func (s *Store) notPortedLineType(n num, e164, routing string) LineType {
	t := s.sets.blocks.Load()
	if routing != "" && routing != e164 {
		if r := parseNum(routing); r.nanp {
			if lt, ok := t.lineType(r, SourceLRNBlock); ok {
				return lt
			}
		}
	}
	if n.nanp {
		if lt, ok := t.lineType(n, SourceBlock); ok {
			return lt
		}
		lt := LineType{Type: LineUnknown, Source: SourceNone}
		if t != nil { // nil: no block data was ever imported
			lt.Version = t.rec.Info.Version
		}
		return lt
	}
	return phonenumbersLineType(e164)
}

// lineType answers from the block of n, when the table has data for it.
func (t *blockTable) lineType(n num, source string) (LineType, bool) {
	bt, state := t.lookup(n.exchange, n.line)
	if bt == 0 {
		return LineType{}, false
	}
	return LineType{Type: blockLineType(bt), Source: source, Detail: bt.String(), Block: Block(n.exchange*10 + uint32(n.line/1000)),
		Version: t.rec.Info.Version, State: state}, true
}

// Block is a thousands-block, NPA-NXX-X as the integer NPANXXX; it reads
// 202-555-0 in JSON and text.
type Block uint32

func (b Block) String() string {
	return fmt.Sprintf("%03d-%03d-%d", b/10000, b/10%1000, b%10)
}

func (b Block) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b *Block) UnmarshalText(text []byte) error {
	var npa, nxx, x uint32
	if _, err := fmt.Sscanf(string(text), "%03d-%03d-%d", &npa, &nxx, &x); err != nil {
		return fmt.Errorf("block %q is not NPA-NXX-X", text)
	}
	*b = Block(npa*10000 + nxx*10 + x)
	return nil
}

// blockLineType maps a block type to a line type. Paging is a wireless
// service (47 U.S.C. 227(b)(1)(A)(iii) names it beside cellular); a mixed
// block cannot tell, so it answers unknown.
func blockLineType(bt formats.BlockType) string {
	switch bt {
	case formats.Wireless, formats.Pager:
		return LineMobile
	case formats.Landline:
		return LineLandline
	case formats.VoIP:
		return LineVoIP
	}
	return LineUnknown
}

// phonenumbersLineType asks libphonenumber about a number outside the NANP,
// where many countries do split mobile and fixed ranges.
func phonenumbersLineType(e164 string) LineType {
	lt := LineType{Type: LineUnknown, Source: SourcePhonenumbers}
	pn, err := phonenumbers.Parse(e164, "")
	if err != nil {
		lt.Detail = "not a valid number"
		return lt
	}
	switch phonenumbers.GetNumberType(pn) {
	case phonenumbers.MOBILE, phonenumbers.PAGER:
		lt.Type, lt.Detail = LineMobile, "mobile range"
	case phonenumbers.FIXED_LINE:
		lt.Type, lt.Detail = LineLandline, "fixed-line range"
	case phonenumbers.VOIP:
		lt.Type, lt.Detail = LineVoIP, "VoIP range"
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		lt.Detail = "fixed-line or mobile range"
	default:
		lt.Detail = "range of no line type"
	}
	return lt
}
