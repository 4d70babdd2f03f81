package media

// Voice-activity thresholds, in dBov. The absolute floors are those of
// Asterisk's dsp.c silence threshold (mean |x| 256, about -40 dBov RMS) and
// FreeSWITCH's switch_vad.c (about -48 dBov), set between the two; the
// margins over the tracked noise floor follow the research prototype
// (docs/media.md, "Detection").
const (
	onsetFloorDB  = -45 // a frame may start speech only above this
	onsetMarginDB = 12  // ... and this far above the noise floor
	holdFloorDB   = -50 // once speech started, a frame continues it above this
	holdMarginDB  = 7   // ... and this far above the noise floor
	// A voiced frame continues speech above voicedFloorDB and this far
	// above the noise floor (PCMA's idle pattern decodes to a steady
	// offset of -72 dBov, periodic to any lag: the floor keeps it out).
	voicedFloorDB  = -55
	voicedMarginDB = 3
)

// noiseFloor tracks a stream's background level in dBov: it falls fast
// toward quieter frames and rises slowly, faster through frames that are
// not speech, so that a steady noise becomes the floor within about a
// second while speech hardly lifts it. Digital silence (no packets, zero
// samples) counts as quietFloorDB: a quiet line.
type noiseFloor struct {
	db  float32
	set bool
}

// quietFloorDB is the floor digital silence gives, in dBov.
const quietFloorDB = -90

// update takes a frame's level and whether it was heard as speech.
func (f *noiseFloor) update(level float32, speech bool) {
	level = max(level, quietFloorDB)
	switch {
	case !f.set:
		f.db, f.set = level, true
	case level < f.db:
		f.db += (level - f.db) / 4
	case speech:
		f.db += (level - f.db) / 500
	default:
		f.db += (level - f.db) / 20
	}
}

// onset and hold are the levels a frame must pass to start and to continue
// speech.
func (f *noiseFloor) onset() float32 { return max(onsetFloorDB, f.db+onsetMarginDB) }
func (f *noiseFloor) hold() float32  { return max(holdFloorDB, f.db+holdMarginDB) }

// voiced is the level a voiced frame must pass to continue speech.
func (f *noiseFloor) voiced() float32 { return max(voicedFloorDB, f.db+voicedMarginDB) }
