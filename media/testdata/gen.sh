#!/bin/sh
# Regenerates the audio fixtures of media's detection tests: 8 kHz mono
# 16-bit PCM WAV files, as G.711 carries them. The generated files are
# committed, so tests and CI need neither tool; run this script after
# changing it. Needs Debian's espeak-ng and sox (apt-get install -y
# espeak-ng sox). Speech, music and tones come out the same for one version
# of both tools: sox's dither is off and its noise has a fixed seed (-R).
#
#   greeting-*.wav   what a called person says on answering, trimmed at
#                    both ends (below -50 dBov), so the greeting ends with
#                    the file: the tests' ground truth for "greeting end"
#   agent-*.wav      a live agent's opening line, trimmed likewise
#   safeharbor-*.wav the recorded message a dialer plays when no agent is
#                    free (16 CFR 310.4(b)(4)(iii)): two campaigns' messages
#   noise-*.wav      5 s of white or pink noise at -50 or -40 dBov RMS,
#                    for line noise on either leg and "office ambience"
#                    on the dialer leg (not an agent)
#   music-*.wav      about 5 s of hold music: plucked chords, a triangle-wave
#                    melody, an organ-like chord pad, a fast plucked
#                    arpeggio (not an agent)
#   tone-*.wav       US ringback (440+480 Hz, 2 s on), a 1004 Hz test tone,
#                    US busy (480+620 Hz, 0.5 s on/off) (not an agent)
set -eu
cd "$(dirname "$0")"
sox() { command sox -D "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out="-r 8000 -c 1 -b 16 -e signed-integer"

# speech NAME VOICE SPEED TEXT: espeak-ng speech at 8 kHz, peak at -3 dBFS,
# leading and trailing silence cut.
speech() {
	espeak-ng -v "$2" -s "$3" -w "$tmp/raw.wav" "$4"
	sox "$tmp/raw.wav" $out "$1.wav" norm -3 \
		silence 1 0.005 -50d reverse silence 1 0.005 -50d reverse
}

speech greeting-hello-us   en-us          170 "Hello?"
speech greeting-hello-f    en-us+f3       140 "Hello?"
speech greeting-hello-gb   en-gb+m3       200 "Hello."
speech greeting-maria      en+f2          160 "Hello, this is Maria speaking."
speech greeting-yeah       en-gb-scotland 185 "Yeah, hello?"
speech greeting-whos       en-us+m1       175 "Hi, who's calling?"
speech greeting-yes        en-us+f4       150 "Yes?"
speech greeting-whois      en-gb-x-rp+m4  150 "Hello, who is this?"

speech agent-john   en-us+m3   165 "Hi, this is John from Acme Solar. How are you doing today?"
speech agent-sarah  en-gb+f4   160 "Good afternoon, my name is Sarah, I am calling about your recent inquiry."
speech agent-mike   en-029     180 "Hey there, it's Mike with Northwind Insurance, do you have a minute?"
speech agent-lee    en-us+f2   175 "Hello, this is Lee calling from Contoso Energy about your electricity bill."

speech safeharbor-acme      en-us    165 "This call was made on behalf of Acme Solar. To opt out of future calls, press nine."
speech safeharbor-northwind en-gb+m2 175 "Sorry, no one is free to take your call. Northwind Insurance, eight hundred, five five five, zero one four two."

# noise NAME COLOR DBOV: 5 s of noise scaled to DBOV RMS.
noise() {
	sox -R -n $out "$tmp/n.wav" synth 5 "$2"noise
	rms=$(sox "$tmp/n.wav" -n stats 2>&1 | awk '/RMS lev dB/ {print $4}')
	sox "$tmp/n.wav" $out "$1.wav" gain "$(echo "$3 - ($rms)" | bc -l)"
}
noise noise-white-50 white -50
noise noise-white-40 white -40
noise noise-pink-50  pink  -50
noise noise-pink-40  pink  -40

# notes FILE LEN SYNTH NOTE...: one note (or chord: NOTE as A+B+C) after
# another, each LEN seconds, mixed to mono at -6 dBFS peak.
notes() {
	file=$1 len=$2 kind=$3
	shift 3
	i=0
	for n in "$@"; do
		i=$((i + 1))
		args=""
		for f in $(echo "$n" | tr + ' '); do args="$args $kind $f"; done
		# shellcheck disable=SC2086
		sox -n -r 8000 -c "$(echo "$n" | tr + '\n' | wc -l)" -b 16 "$tmp/note$(printf %03d $i).wav" synth "$len" $args remix - 2>/dev/null \
			|| sox -n -r 8000 -c 1 -b 16 "$tmp/note$(printf %03d $i).wav" synth "$len" $args
	done
	sox "$tmp"/note*.wav $out "$file" norm -6
	rm -f "$tmp"/note*.wav
}
notes music-pluck.wav   0.5  pluck    C3+E3+G3 A2+C3+E3 F2+A2+C3 G2+B2+D3 C3+E3+G3 A2+C3+E3 F2+A2+C3 G2+B2+D3 C3+E3+G3 C3+E3+G3
notes music-melody.wav  0.25 triangle E4 D4 C4 D4 E4 E4 E4 E4 D4 D4 D4 D4 E4 G4 G4 G4 E4 D4 C4 D4 E4
notes music-pad.wav     1.25 sine     C3+G3+C4+E4 A2+E3+A3+C4 F2+C3+F3+A3 G2+D3+G3+B3
notes music-arpeggio.wav 0.15 pluck   C4 E4 G4 C5 G4 E4 A3 C4 E4 A4 E4 C4 F3 A3 C4 F4 C4 A3 G3 B3 D4 G4 D4 B3 C4 E4 G4 C5 G4 E4 C4 E4

sox -n $out tone-ringback.wav synth 2 sine 440 sine 480 remix - gain -6 pad 0 1
sox -n $out tone-1004.wav synth 2 sine 1004 gain -10
sox -n $out "$tmp/b.wav" synth 0.5 sine 480 sine 620 remix - gain -6 pad 0 0.5
sox "$tmp/b.wav" "$tmp/b.wav" "$tmp/b.wav" $out tone-busy.wav
