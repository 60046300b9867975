#!/bin/sh
# Generate the demo clip served at /static/demo/demo.webm.
#
# A 30 s, 426x240, 30 fps VP9 + Opus WebM (Chromium without proprietary codecs plays it)
# with the media time (%{pts}) and the frame number burned in, so two players side by
# side show at a glance how far apart they are, to the frame. The audio is a short
# beep on every whole second; a white block sweeps along the bottom, 7 px a frame.
# Keyframes every second keep seeks quick; SMPTE bars keep the file small (< 1 MB).
#
# Needs Debian's ffmpeg (libvpx, libopus, drawtext) and fonts-dejavu-core.
# Usage: tools/make_demo_clip.sh [OUTPUT]   (default admin_app/static/demo/demo.webm)
set -eu

out=${1:-"$(dirname "$0")/../admin_app/static/demo/demo.webm"}
duration_s=30
font=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
[ -r "$font" ] || { echo "missing $font: apt-get install fonts-dejavu-core" >&2; exit 1; }

box="box=1:boxcolor=black@0.6:boxborderw=6:fontcolor=white:fontfile=$font"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "smptebars=size=426x240:rate=30:duration=$duration_s" \
  -f lavfi -i "sine=frequency=880:sample_rate=48000:duration=$duration_s" \
  -filter_complex "
    color=c=orange:size=12x40:rate=30[bar];
    [0:v][bar]overlay=x='mod(n*7,W-w)':y=H-h:shortest=1,
         drawtext=$box:fontsize=28:x=(w-tw)/2:y=h/2-th-8:text='%{pts\:hms}',
         drawtext=$box:fontsize=22:x=(w-tw)/2:y=h/2+8:text='frame %{frame_num}',
         drawtext=$box:fontsize=14:x=8:y=8:text='watchparty demo'[v];
    [1:a]volume='if(lt(mod(t,1),0.08),0.25,0)':eval=frame[a]" \
  -map '[v]' -map '[a]' \
  -c:v libvpx-vp9 -b:v 0 -crf 42 -row-mt 1 -deadline good -cpu-used 2 -g 30 -pix_fmt yuv420p \
  -c:a libopus -b:a 24k \
  -metadata title="watchparty demo clip" \
  "$out"
ls -l "$out"
