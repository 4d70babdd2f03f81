package media

import (
	"fmt"
	"io"

	"github.com/go-audio/wav"
)

// sampleRate is G.711's rate (RFC 3551 §4.5.14), the only one analysed.
const sampleRate = 8000

// readWAV returns the samples of a WAV file of 16-bit linear PCM, 8 kHz,
// mono (as `sox IN -r 8000 -c 1 -b 16 OUT.wav` writes). Errors name what
// is wrong with the file.
func readWAV(r io.ReadSeeker) ([]int16, error) {
	d := wav.NewDecoder(r)
	if !d.IsValidFile() {
		return nil, fmt.Errorf("not a WAV file: %w", ErrNotWAV)
	}
	if d.SampleRate != sampleRate || d.NumChans != 1 || d.BitDepth != 16 || d.WavAudioFormat != 1 {
		return nil, fmt.Errorf("%d Hz, %d channels, %d bits, format %d: want 8000 Hz, 1 channel, 16-bit PCM (format 1): %w",
			d.SampleRate, d.NumChans, d.BitDepth, d.WavAudioFormat, ErrNotWAV)
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		return nil, fmt.Errorf("reading samples: %w", err)
	}
	out := make([]int16, len(buf.Data))
	for i, v := range buf.Data {
		out[i] = int16(v)
	}
	return out, nil
}
