package registry

import "encoding/binary"

// Key layout. Imported data is written under a storage id no reader knows
// yet, so a version is complete before anything points at it, and dropping
// one is a prefix delete.
//
//	list/NAME                     -> JSON listRecord: the list's current state
//	version/ID(8)                 -> JSON ListInfo as of import ID (kept: decisions cite ids)
//	seq/version                   -> uint64 (big endian): the last id issued
//	live/NAME/E164                -> action byte + JSON Change: a live change in force
//	log/E164/NANOS(8)             -> JSON Change: every live change made, kept for years
//	'd' ID(8) 'x' EXCHANGE(4)     -> exchange bitmap (exchange.go) of a full version
//	'd' ID(8) 'n' E164            -> "1": a number outside the NANP in a full version
//	'd' ID(8) 'e'                 -> roaring bitmap of the exchanges a full version holds
//	'd' ID(8) 'c' CHUNK(4)        -> a change list's changes (changes.go), in chunks
//
// Ids are issued once and never reused: data under an id that no list names
// (an import that died midway) is recognizable and removed at the next Open
// or import. No other key may start with 'd'. (counters.go keeps cnt/, abandonment.go aban/.)
const (
	listPrefix    = "list/"
	versionPrefix = "version/"
	versionSeqKey = "seq/version"
	livePrefix    = "live/"
	logPrefix     = "log/"

	dataTag     byte = 'd'
	exchangeTag byte = 'x'
	foreignTag  byte = 'n'
	filterTag   byte = 'e'
	chunkTag    byte = 'c'

	storagePrefixLen = 1 + 8
)

// foreignValue marks a listed number outside the NANP. The key says it all; a
// non-empty value keeps clear of Badger reading "no value, no meta" as missing.
var foreignValue = []byte("1")

func listKey(name string) []byte { return []byte(listPrefix + name) }

func versionKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(versionPrefix), id)
}

func liveListPrefix(list string) []byte { return []byte(livePrefix + list + "/") }

func liveKey(list, e164 string) []byte { return append(liveListPrefix(list), e164...) }

func logNumberPrefix(e164 string) []byte { return []byte(logPrefix + e164 + "/") }

func logKey(e164 string, nanos int64) []byte {
	return binary.BigEndian.AppendUint64(logNumberPrefix(e164), uint64(nanos))
}

// storagePrefix is the first key the data of a storage id can have.
func storagePrefix(id uint64) []byte { return taggedStoragePrefix(dataTag, id) }

// taggedStoragePrefix is the first key of a storage id among the keys that
// start with tag (list data or data set data).
func taggedStoragePrefix(tag byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{tag}, id)
}

// exchangeKey appends the key of an exchange bitmap to dst.
func exchangeKey(dst []byte, id uint64, exchange uint32) []byte {
	dst = append(dst, dataTag)
	dst = binary.BigEndian.AppendUint64(dst, id)
	dst = append(dst, exchangeTag)
	return binary.BigEndian.AppendUint32(dst, exchange)
}

// foreignKey appends the key of a number outside the NANP to dst.
func foreignKey(dst []byte, id uint64, e164 string) []byte {
	dst = append(dst, dataTag)
	dst = binary.BigEndian.AppendUint64(dst, id)
	dst = append(dst, foreignTag)
	return append(dst, e164...)
}

func filterKey(id uint64) []byte { return append(storagePrefix(id), filterTag) }

func chunkKey(id uint64, chunk uint32) []byte {
	return binary.BigEndian.AppendUint32(append(storagePrefix(id), chunkTag), chunk)
}

// storageOf reads the storage id of a data key.
func storageOf(key []byte) (uint64, bool) {
	if len(key) < storagePrefixLen || key[0] != dataTag {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[1:storagePrefixLen]), true
}
