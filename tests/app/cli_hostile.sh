#!/usr/bin/env bash
# tessera-cli against hostile paths and limits: inspect on a FIFO returns at once, --out onto a FIFO
# or a device is refused and leaves it in place, replay never overwrites the file it replays, a
# file-size limit (ulimit -f) gives an error and no partial file instead of death by SIGXFSZ, and a
# prompt that is not UTF-8 is a usage error, not a JSON library's exception text.
set -uo pipefail
cli="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fails=0
check() { if ! eval "$1"; then echo "FAIL: $2"; fails=$((fails + 1)); fi; }

"$cli" generate --prompt "a red cube" --seed 5 --out "$work/a.png" > /dev/null || { echo "generate failed"; exit 1; }
cp "$work/a.png" "$work/orig.png"

mkfifo "$work/fifo.png"
timeout 10 "$cli" inspect "$work/fifo.png" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 1 ] && grep -q "not a regular file" "$work/o.txt"' "inspect on a FIFO (exit $rc): $(cat "$work/o.txt")"

timeout 20 "$cli" generate --prompt x --seed 1 --out "$work/fifo.png" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 1 ] && [ -p "$work/fifo.png" ] && grep -q "not a regular file" "$work/o.txt"' \
  "generate --out onto a FIFO (exit $rc): $(cat "$work/o.txt")"
ln -s /dev/null "$work/null.png"
timeout 20 "$cli" generate --prompt x --seed 1 --out "$work/null.png" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 1 ] && [ -L "$work/null.png" ] && [ -c /dev/null ]' "generate --out onto /dev/null (exit $rc)"

# replay onto its own input, given explicitly or through the default name replay.png.
"$cli" replay "$work/a.png" --out "$work/a.png" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 2 ] && cmp -s "$work/a.png" "$work/orig.png" && grep -q "file being replayed" "$work/o.txt"' \
  "replay --out onto its input (exit $rc): $(cat "$work/o.txt")"
cp "$work/a.png" "$work/replay.png"
"$cli" replay "$work/replay.png" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 2 ] && cmp -s "$work/replay.png" "$work/orig.png"' "replay of replay.png onto itself (exit $rc)"

# A file-size limit of 1 KiB: the PNG (with its recipe) is larger.
mkdir "$work/lim"
(ulimit -f 1; "$cli" generate --prompt "a red cube" --seed 5 --out "$work/lim/a.png" > "$work/o.txt" 2>&1); rc=$?
check '[ $rc -eq 1 ] && grep -q "File too large" "$work/o.txt" && [ -z "$(ls -A "$work/lim")" ]' \
  "generate under ulimit -f 1 (exit $rc, left: $(ls -A "$work/lim")): $(cat "$work/o.txt")"

"$cli" generate --prompt "$(printf 'bad \xff\xfe utf-8')" --seed 1 --out "$work/u.png" --json > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 2 ] && grep -q "not valid UTF-8" "$work/o.txt" && ! grep -q "json.exception" "$work/o.txt"' \
  "invalid UTF-8 prompt (exit $rc): $(cat "$work/o.txt")"

# generate --project never adopts a folder that is not a project, nor an empty project.db.
mkdir -p "$work/photos/media"; echo "holiday" > "$work/photos/media/photo.jpg"
"$cli" generate --prompt x --seed 1 --out "$work/p.png" --project "$work/photos" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 1 ] && [ ! -e "$work/photos/project.db" ] && grep -q "not an empty folder" "$work/o.txt"' \
  "generate --project onto a folder of photos (exit $rc): $(cat "$work/o.txt")"
: > "$work/photos/project.db"
"$cli" generate --prompt x --seed 1 --out "$work/p.png" --project "$work/photos" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 1 ] && [ ! -s "$work/photos/project.db" ] && grep -q "empty" "$work/o.txt"' \
  "generate --project with a 0-byte project.db (exit $rc): $(cat "$work/o.txt")"
"$cli" project recover "$work/photos" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 1 ] && [ -f "$work/photos/media/photo.jpg" ]' "recover on a 0-byte project.db (exit $rc)"

# A full disk while storing in a project (a file-size limit stands in for it): exit 1 with the
# system's reason, nothing from the run stored, the job marked failed (not left 'running'), and
# recover finds only the run's unnamed media files; the project passes its integrity check.
"$cli" generate --prompt x --seed 1 --out "$work/q.png" --project "$work/full" > /dev/null 2>&1 || { echo "project setup failed"; exit 1; }
before=$(stat -c %s "$work/full/project.db")
(ulimit -f $(( before / 1024 + 8 )); "$cli" generate --prompt x --seed 2 --images 64 --out "$work/q.png" --project "$work/full" > "$work/o.txt" 2>&1); rc=$?
"$cli" project list "$work/full" > "$work/l.txt" 2>&1
check '[ $rc -eq 1 ] && grep -q "File too large" "$work/o.txt" && grep -q "nothing from this run was stored" "$work/o.txt"' \
  "generate --project on a full disk (exit $rc): $(grep -v wrote "$work/o.txt")"
check 'grep -q "1 generations" "$work/l.txt" && grep -qE "^ +2 +failed" "$work/l.txt" && ! grep -qE "^ +[0-9]+ +running" "$work/l.txt"' \
  "after a full disk, the project holds the first run only and a failed job: $(cat "$work/l.txt")"
"$cli" project recover "$work/full" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "64 orphan files removed" "$work/o.txt" && grep -q "integrity check: ok" "$work/o.txt"' \
  "recover after a full disk (exit $rc): $(head -3 "$work/o.txt")"

# A damaged project.db is refused before anything is written to it (the type byte of an index
# page overwritten: SQLite still opens the file, quick_check does not pass).
"$cli" generate --prompt x --seed 3 --images 16 --out "$work/m.png" --project "$work/dmg" > /dev/null 2>&1 || { echo "project setup failed"; exit 1; }
printf 'Z' | dd of="$work/dmg/project.db" bs=1 seek=$((10 * 4096)) conv=notrunc status=none
cp "$work/dmg/project.db" "$work/dmg.before"
"$cli" generate --prompt x --seed 4 --out "$work/m.png" --project "$work/dmg" > "$work/o.txt" 2>&1; rc=$?
check '[ $rc -eq 1 ] && grep -q "is damaged" "$work/o.txt" && cmp -s "$work/dmg/project.db" "$work/dmg.before"' \
  "generate --project into a damaged database (exit $rc): $(grep -v wrote "$work/o.txt")"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "cli hostile inputs OK"
