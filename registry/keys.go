package registry

import "encoding/binary"

// Key layout. Every import writes a new version under its own key range, so a
// version is complete before anything points at it, and dropping one is a
// prefix delete.
//
//	list/NAME                       -> JSON ListInfo: the list's current version
//	seq/version                     -> uint64 (big endian): the last version id issued
//	'd' VERSION(8) 'x' EXCHANGE(4)  -> exchange bitmap (see exchange.go), NANP numbers
//	'd' VERSION(8) 'n' E164         -> "1", numbers outside the NANP
//
// Version ids are issued once across all lists and never reused, so data of an
// import that died midway (no list points at its version) is recognizable and
// is removed at the next Open or import.
const (
	listPrefix    = "list/"
	versionSeqKey = "seq/version"

	dataTag     byte = 'd'
	exchangeTag byte = 'x'
	foreignTag  byte = 'n'

	versionPrefixLen = 1 + 8
)

// foreignValue marks a listed number outside the NANP. The key says it all; a
// non-empty value keeps clear of Badger reading "no value, no meta" as missing.
var foreignValue = []byte("1")

func listKey(name string) []byte { return []byte(listPrefix + name) }

// versionPrefix is the first key a version's data can have.
func versionPrefix(version uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{dataTag}, version)
}

// exchangeKey appends the key of an exchange bitmap to dst.
func exchangeKey(dst []byte, version uint64, exchange uint32) []byte {
	dst = append(dst, dataTag)
	dst = binary.BigEndian.AppendUint64(dst, version)
	dst = append(dst, exchangeTag)
	return binary.BigEndian.AppendUint32(dst, exchange)
}

// foreignKey appends the key of a number outside the NANP to dst.
func foreignKey(dst []byte, version uint64, e164 string) []byte {
	dst = append(dst, dataTag)
	dst = binary.BigEndian.AppendUint64(dst, version)
	dst = append(dst, foreignTag)
	return append(dst, e164...)
}

// dataKeyVersion reads the version of a data key.
func dataKeyVersion(key []byte) (uint64, bool) {
	if len(key) < versionPrefixLen || key[0] != dataTag {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[1:versionPrefixLen]), true
}
