package formats

import (
	"bufio"
	"bytes"
	"io"
)

// Byte-order marks: spreadsheet programs start a file saved as "CSV UTF-8" or
// "Unicode text" with one.
var (
	bomUTF8    = []byte("\xef\xbb\xbf")
	bomUTF16LE = []byte("\xff\xfe")
	bomUTF16BE = []byte("\xfe\xff")
)

// textReader buffers r for a reader of lines or CSV, dropping the UTF-8
// byte-order mark at its start. A file that starts with a UTF-16 mark (and
// so holds two bytes per character) is refused at line 1 with what to do,
// rather than failing on its first number. r is reused when it is a large
// enough *bufio.Reader, so calling textReader twice is harmless.
func textReader(r io.Reader, name string) (*bufio.Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < sampleSize {
		br = bufio.NewReaderSize(r, sampleSize)
	}
	head, _ := br.Peek(len(bomUTF8))
	switch {
	case bytes.HasPrefix(head, bomUTF8):
		br.Discard(len(bomUTF8))
	case bytes.HasPrefix(head, bomUTF16LE), bytes.HasPrefix(head, bomUTF16BE):
		return nil, &LineError{File: name, Line: 1, Reason: "the file is UTF-16 text (it starts with a UTF-16 byte-order mark): save it as UTF-8 (a spreadsheet's \"CSV UTF-8\") and import it again"}
	}
	return br, nil
}
