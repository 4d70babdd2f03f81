package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/go-audio/audio"
	"github.com/go-audio/wav"
	"github.com/zaf/g711"
)

// Audio for the media tests. Fixtures are WAV files (media/testdata, made by
// its gen.sh with espeak-ng and sox); SIPp's rtp_stream plays raw G.711: it
// sends a file's bytes as they are, 160 a packet every 20 ms for PCMU
// (payload type 0). clip turns fixtures into such a file, with silence
// where a test wants a gap, so that each side sends RTP all through the call
// as a phone does.

// Where the tests' calls put their audio, from the answer on: the called
// person greets after greetingLead, the dialer's agent (or message) comes
// a gap after the greeting's end. The gaps are far from the rule's 2 s
// (16 CFR 310.4(b)(1)(iv)) so that a loaded machine's timing cannot move
// a verdict.
const (
	greetingLead = 300 * time.Millisecond
	shortGap     = 800 * time.Millisecond
	longGap      = 3500 * time.Millisecond
)

// answering is what the called person's side sends from the answer on in
// the media tests: greetingLead of silence, "Hi, who's calling?", then
// silence for as long as any test's call lasts; greetingEnd is where the
// greeting ends.
func answering(t *testing.T) (audio clip, greetingEnd time.Duration) {
	t.Helper()
	greeting := fixture(t, "greeting-whos")
	return slices.Concat(silence(greetingLead), greeting, silence(10*time.Second)), greetingLead + greeting.duration()
}

// sampleRate is G.711's, in samples a second (RFC 3551 §4.5.14).
const sampleRate = 8000

// clip is mono audio at 8 kHz, 16-bit samples.
type clip []int16

// readWAV reads a WAV file of 16-bit mono PCM at 8 kHz, the form gen.sh writes.
func readWAV(t *testing.T, path string) clip {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := wav.NewDecoder(f)
	buf, err := d.FullPCMBuffer()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.WavAudioFormat != 1 || d.BitDepth != 16 || d.NumChans != 1 || d.SampleRate != sampleRate {
		t.Fatalf("%s: format %d, %d bits, %d channels at %d Hz; want PCM (1), 16 bits, 1 channel at %d Hz",
			path, d.WavAudioFormat, d.BitDepth, d.NumChans, d.SampleRate, sampleRate)
	}
	c := make(clip, len(buf.Data))
	for i, s := range buf.Data {
		c[i] = int16(s)
	}
	return c
}

// writeWAV writes c as a WAV file of 16-bit mono PCM at 8 kHz.
func writeWAV(t *testing.T, path string, c clip) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := wav.NewEncoder(f, sampleRate, 16, 1, 1)
	data := make([]int, len(c))
	for i, s := range c {
		data[i] = int(s)
	}
	if err := e.Write(&audio.IntBuffer{Format: &audio.Format{NumChannels: 1, SampleRate: sampleRate}, Data: data, SourceBitDepth: 16}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// fixture reads media/testdata/NAME.wav. Spoken fixtures are trimmed at
// both ends: the words start and end with the file.
func fixture(t *testing.T, name string) clip {
	t.Helper()
	return readWAV(t, filepath.Join(repoRoot, "media", "testdata", name+".wav"))
}

// silence is d of digital silence.
func silence(d time.Duration) clip {
	return make(clip, int(d*sampleRate/time.Second))
}

// duration is how long c plays.
func (c clip) duration() time.Duration {
	return time.Duration(len(c)) * time.Second / sampleRate
}

// writePCMU writes clips one after another as raw PCMU (G.711 µ-law), as
// SIPp's rtp_stream plays it, padded with silence to whole 20 ms packets.
func writePCMU(t *testing.T, path string, clips ...clip) {
	t.Helper()
	var out []byte
	for _, c := range clips {
		for _, s := range c {
			out = append(out, g711.EncodeUlawFrame(s))
		}
	}
	for len(out)%160 != 0 {
		out = append(out, g711.EncodeUlawFrame(0))
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

var rtpStream = regexp.MustCompile(`rtp_stream="[^,"]*,`)

// playing writes a copy of a test/sipp scenario whose rtp_stream plays the
// file at audio (SIPp reads a relative name from its working folder, a
// fresh one per run) and returns the copy's path.
func playing(t *testing.T, scenario, audio string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(sippDir, scenario))
	if err != nil {
		t.Fatal(err)
	}
	if !rtpStream.Match(text) {
		t.Fatalf("%s plays no rtp_stream", scenario)
	}
	path := filepath.Join(filepath.Dir(audio), filepath.Base(audio)+"-"+scenario)
	writeFile(t, path, rtpStream.ReplaceAllLiteralString(string(text), `rtp_stream="`+audio+`,`))
	return path
}
