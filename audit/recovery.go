package audit

// KindRecovery is the record a start writes after it repaired the log: a
// write a crash (power loss, kill -9) cut short. Its fields are Recovery's.
const KindRecovery = "recovery"

// Ways a start repairs the last line of the log (Recovery.Repair).
const (
	// RepairNewline: the line was a whole record missing its newline, which
	// was added.
	RepairNewline = "newline_added"
	// RepairSealed: the line was a record cut short; a newline ends it, so
	// that the next record starts a line of its own. The chain goes on from
	// the record before it, and no byte was removed.
	RepairSealed = "line_sealed"
)

// Recovery says what a start repaired: the file, the line (1-based) and its
// length in bytes, and how (RepairNewline or RepairSealed).
type Recovery struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Bytes  int    `json:"bytes"`
	Repair string `json:"repair"`
}
