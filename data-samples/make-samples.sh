#!/usr/bin/env bash
# Regenerates the bundled sample data set (data-samples/<class>/*.jpg) from the
# public-domain clip art in Debian's `openclipart-png` package.
#
#   sudo apt-get update
#   sudo apt-get install -y openclipart-png imagemagick
#   bash data-samples/make-samples.sh
#
# Selection is deterministic: for each class, take the PNG files directly in the
# source category folder (files or symlinks: Debian de-duplicates the package
# by symlinking a category's picture to the same picture filed elsewhere),
# sorted by name (LC_ALL=C), drop the hand-picked exclusions listed below
# (text/logos, scenes, near-duplicates, off-topic pictures, broken images),
# then keep PER_CLASS of the rest, evenly spaced through the sorted list.
#
# Each image is flattened onto white, trimmed of its empty margin, shrunk so
# its longer side is at most 240 px, centred on a white square with an 8 px
# margin (so at most 256x256), and written as a baseline JPEG, quality 85,
# with metadata stripped.
set -euo pipefail
export LC_ALL=C

SRC=${SRC:-/usr/share/openclipart/png}
OUT=${OUT:-$(cd "$(dirname "$0")" && pwd)}
PER_CLASS=${PER_CLASS:-35}
QUALITY=${QUALITY:-85}
IM=${IM:-convert}   # ImageMagick 6 `convert` (Debian: imagemagick-6.q16)

if [ ! -d "$SRC/animals/birds" ]; then
  echo "error: $SRC not found; run: apt-get install -y openclipart-png" >&2
  exit 1
fi
if ! "$IM" -version 2>/dev/null | grep -q ImageMagick; then
  echo "error: ImageMagick's convert not found; run: apt-get install -y imagemagick" >&2
  exit 1
fi

# class name -> source category folder (relative to $SRC)
declare -A CATEGORY=(
  [birds]=animals/birds
  [bugs]=animals/bugs
  [fruit]=food/fruit
  [music]=recreation/music
)

# Exclusions (file names in the category folder), one class per variable.
EXCLUDE_birds="
baby-tux_alex_kuehne_01.png
baby_tux_rory_mccann_01.png
ninja_tux_rory_mccann_01.png
cigno_di_notte_nella_pa_01.png
contour_bat.png
duck_yellow_ii_kurt_cagl_.png
mirjam_meijer_mirjam_mei_01.png
ralf_ark.in-berlin.de_ra_01.png
stormo_di_uccelli_archit_01.png
turkey_on_platter_01.png
wing_mitchell_johnson_si_.png
"
# baby-tux_alex: blue square; *_rory_mccann: Debian logo; cigno_di_notte: scene;
# contour_bat: a bat; duck_yellow_ii: "Linked Image Not Found"; mirjam: flowers;
# ralf_ark: duplicate of emperor_penguin; stormo: faint flock; turkey_on_platter:
# roast; wing: a single faint wing.

EXCLUDE_bugs="
blue_dragonfly_ghuul_ghu_01.png
flying_wasp_gerald_g._02.png
lumaca_architetto_france_01.png
lumaca_turbo_architetto__01.png
ragno_figo_architetto_fr_01.png
virus_andreas_nilsson_01.png
"
# blue_dragonfly: dark full-frame background with text; flying_wasp_02:
# duplicate of _01; lumaca*: snails; ragno_figo: abstract; virus: not a bug.

EXCLUDE_fruit="
apple_mateya_01.png
banana_mateya_01.png
apple_juice_box.png
apple_juice_box_bw.png
candied_apples_ganson.png
champignon_01.png
eris_apple_nurbldoff_01.png
fruitcollection_leif_lod_07.png
gumnut_black_01.png
gumnut_shaded_01.png
juice_glass_andremarcel._01.png
kallisti-grenade_1_nurbl_01.png
pie_apple.png
pie_apple_bw.png
pie_cherry.png
pie_cherry_bw.png
slate-apple_benji_park_01.png
straw_tote_linda_kim_01.png
tile_orange_gabriel_lo_i_01.png
lime_half_jarno_vasamaa_.png
tree_whit_fruits_01.png
turkey_platter_01_with_fruit_and_vegitables_01.png
apple_bw.png
apple_wedge_bw.png
grapes_simple_bw.png
lemon_simple_bw.png
orange_simple_bw.png
orange_wedge_bw.png
peach_simple_bw.png
pear_simple_bw.png
strawberry_simple_bw.png
watermelon_simple_bw.png
"
# *_mateya_01: 10500x16000 px, beyond ImageMagick's default resource policy;
# the rest: drinks, pies, a mushroom, gum nuts, a grenade, a photo, a slate,
# a bag, a tile, a tree, a platter, letters; lime_half_jarno: a tiny lime on
# a page with stray marks (does not trim); *_bw: outline copies of colour ones.

EXCLUDE_music="
45_rpm_record_gerald_g._01.png
45_rpm_record_gerald_g._02.png
45_rpm_record_gerald_g._03.png
45_rpm_record_gerald_g._04.png
45_rpm_records_gerald_g._01.png
45_rpm_records_gerald_g._02.png
a_man_singing_01.png
bach_ganson.png
bass_clef_01.png
beethoveo_ganson.png
boombox_linda_kim_01.png
double_croche_jean-victo_01.png
double_note_jean-victor__01.png
double_note_two_jean-vic_01.png
fifties_jukebox_gerald_g_01.png
fifties_jukebox_gerald_g_02.png
funny_music_note_01.png
gramophone.png
handel_ganson.png
headphones_davide_pesent_.png
jazz_enrique_meza_c_01.png
jazz_enrique_meza_c_02.png
microphone_stand_gerald__01.png
mountain_dulcimer_terry_.png
musical_note_1_dennis_bo_01.png
musical_note_2_dennis_bo_01.png
musical_note_3_dennis_bo_01.png
musical_note_nicu_bucule_01.png
piano_theory__ganson.png
piano_theory_ganson1.png
quaver_nathan_eady_01.png
simple_croche_jean-victo_01.png
sixteenth_notes_joined__01.png
tpt_cubf_ganson.png
treble_clef_01.png
treble_staff_with_notes_01.png
trumpet_harmon_mute__ganson.png
trumpet_straight_mute_ganson.png
vinyl_disc_philippe_coli_01.png
cello_mo_02.png
war_drum_enrique_meza_c_01.png
war_drum_enrique_meza_c_02.png
"
# The music class is musical instruments only: records, players, notes,
# clefs, staves, portraits, people, microphones, mutes, a faint outline
# (mountain_dulcimer), abstract ones (tpt_cubf, war_drum_01: an ornament) and
# duplicates (cello_mo_02 is pixel-identical to cello_mo_01; war_drum_02 is a
# symlink to the same file as war_drum_01) are left out.

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

manifest="$OUT/SOURCES.tsv"
printf 'file\tsource\n' > "$tmp/manifest"

for class in birds bugs fruit music; do
  cat_dir=${CATEGORY[$class]}
  excl_var=EXCLUDE_$class
  printf '%s\n' ${!excl_var} | sort > "$tmp/exclude"
  find "$SRC/$cat_dir" -maxdepth 1 -xtype f -name '*.png' -printf '%f\n' | sort \
    | comm -23 - "$tmp/exclude" > "$tmp/candidates"
  n=$(wc -l < "$tmp/candidates")
  k=$(( n < PER_CLASS ? n : PER_CLASS ))
  # evenly spaced picks: line floor(i*n/k)+1 for i = 0..k-1
  awk -v n="$n" -v k="$k" 'BEGIN { for (i = 0; i < k; i++) print int(i * n / k) + 1 }' \
    > "$tmp/lines"
  awk 'NR == FNR { want[$1] = 1; next } want[FNR]' "$tmp/lines" "$tmp/candidates" \
    > "$tmp/picked"

  rm -rf "${OUT:?}/$class"
  mkdir -p "$OUT/$class"
  while IFS= read -r f; do
    stem=${f%.png}
    name=$(printf '%s' "$stem" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_-' '_' | sed 's/__*/_/g; s/^_//; s/_$//')
    "$IM" "$SRC/$cat_dir/$f" -background white -alpha remove -alpha off \
      -fuzz 2% -trim +repage -resize '240x240>' "$tmp/step.png"
    read -r w h < <(identify -format '%w %h\n' "$tmp/step.png")
    side=$(( (w > h ? w : h) + 16 ))
    "$IM" "$tmp/step.png" -background white -gravity center -extent "${side}x${side}" \
      -colorspace sRGB -type TrueColor -strip -interlace none -sampling-factor 4:2:0 \
      -quality "$QUALITY" "$OUT/$class/$name.jpg"
    printf '%s\t%s\n' "$class/$name.jpg" "$cat_dir/$f" >> "$tmp/manifest"
  done < "$tmp/picked"
  echo "$class: $(ls "$OUT/$class" | wc -l) images from $cat_dir ($n candidates)"
done

cp "$tmp/manifest" "$manifest"
du -sh "$OUT" | awk '{ print "total size: " $1 }'
