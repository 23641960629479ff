#!/usr/bin/env bash
# clipmill-train label refuses what a web page or another local process
# should not do (docs/labelling.md, docs/reliability.md "Label server"):
# a Host other than its own address (DNS rebinding), a request without the
# session token of the printed URL, a write from another origin (refused, no
# label written); the page sets the token as an HttpOnly SameSite=Strict
# cookie; 1,000 idle connections do not lock a real request out, and an idle
# connection is closed after --idle-timeout. With chromium: a page of another
# origin, opened after the labelling page in the same browser, cannot label.
source "$(dirname "$0")/common.bash"
TRAIN="$BIN/clipmill-train"
PY=/usr/bin/python3
command -v curl >/dev/null || { echo "no curl: skipped"; exit 77; }
cd "$TMP"
"$GEN" gp.mp4 --kind gameplay --seconds 33 --size 160x90 --fps 10 --seed 1 >/dev/null || fail gen
echo gp.mp4 > manifest.txt
"$INGEST" -C c -q --no-keyword-filter manifest.txt; check_eq ingest "$?" 0
DB=c/catalog.sqlite
id=$(q $DB "SELECT clip_id FROM clips ORDER BY clip_id LIMIT 1")
labels() { q $DB "SELECT count(*) FROM labels"; }

PIDS=()
start() { # start SERVER_ARGS...: sets PAGE (the printed URL), URL (base), PORT, TOKEN
  "$TRAIN" label -C c --port 0 "$@" > url.txt 2> server.err &
  PIDS+=($!)
  for _ in $(seq 300); do [ -s url.txt ] && break; sleep 0.1; done
  PAGE=$(head -1 url.txt); URL=${PAGE%%\?*}; URL=${URL%/}; PORT=${URL##*:}
  TOKEN=$(printf '%s\n' "$PAGE" | sed -n 's/.*[?&]token=\([^&]*\).*/\1/p')
}
stop() { kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null; }
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done' EXIT
code() { curl -s -o body -w '%{http_code}' "$@"; }   # the status; the answer in ./body
auth=(-H "X-Clipmill-Token: ${TOKEN:-}")

start --labeler alice
auth=(-H "X-Clipmill-Token: $TOKEN")
check "printed URL carries a token of 128 random bits" sh -c "printf '%s' '$TOKEN' | grep -Eq '^[0-9a-f]{32}$'"
check "bound to 127.0.0.1 only" sh -c "ss -ltn | grep -q '127.0.0.1:$PORT ' && ! ss -ltn | grep -Eq '(0.0.0.0|\*|\[::\]):$PORT '"
check_eq "with the token: next clip" "$(code "${auth[@]}" "$URL/api/next?labeler=alice")" 200

# --- no token, a wrong token: refused, nothing written
check_eq "no token: page refused" "$(code "$URL/")" 403
check "the refusal says to open the printed URL" grep -q "printed" body
check_eq "no token: next refused" "$(code "$URL/api/next?labeler=alice")" 403
check_eq "no token: sheet refused" "$(code "$URL/sheet/$id.png")" 403
check_eq "no token: label refused" "$(code -X POST "$URL/api/label?clip=$id&label=5&labeler=alice")" 403
check_eq "no token: unknown path refused too" "$(code "$URL/nothing")" 403
bad=$(printf '%s' "$TOKEN" | tr '0-9a-f' '1-9a-f0')
check_eq "wrong token (header): label refused" \
  "$(code -X POST -H "X-Clipmill-Token: $bad" "$URL/api/label?clip=$id&label=5&labeler=alice")" 403
check_eq "wrong token (query): page refused" "$(code "$URL/?token=$bad")" 403
check_eq "wrong token (cookie): label refused" \
  "$(code -X POST -b "clipmill_token_$PORT=$bad" "$URL/api/label?clip=$id&label=5&labeler=alice")" 403
check_eq "token of another length refused" "$(code -H "X-Clipmill-Token: ${TOKEN}0" "$URL/api/next")" 403
check_eq "no label written without the token" "$(labels)" 0

# --- Host must be this server's own address (DNS rebinding sends the attacker's name)
for h in "evil.example:$PORT" "evil.example" "127.0.0.1:$((PORT + 1))" "127.0.0.2:$PORT" "localhost.evil.example:$PORT" "127.0.0.1"; do
  check_eq "Host '$h' refused" "$(code "${auth[@]}" -H "Host: $h" "$URL/api/next?labeler=alice")" 421
done
check_eq "HTTP/1.0 without Host refused" "$(code --http1.0 -H 'Host:' "${auth[@]}" "$URL/api/next")" 421
check_eq "Host 'evil' on a write refused" \
  "$(code "${auth[@]}" -H "Host: evil.example:$PORT" -X POST "$URL/api/label?clip=$id&label=5&labeler=alice")" 421
check_eq "Host localhost:PORT accepted" "$(code "${auth[@]}" -H "Host: localhost:$PORT" "$URL/api/next")" 200
check_eq "Host LOCALHOST:PORT accepted" "$(code "${auth[@]}" -H "Host: LOCALHOST:$PORT" "$URL/api/next")" 200
check_eq "no label written by a wrong Host" "$(labels)" 0

# --- writes from another origin: refused even with a valid-looking body and the token
for o in "http://evil.example" "http://127.0.0.1:$((PORT + 1))" "https://127.0.0.1:$PORT" "null"; do
  check_eq "POST with Origin $o refused" "$(code "${auth[@]}" -H "Origin: $o" -X POST \
    -H 'Content-Type: application/x-www-form-urlencoded' --data "clip=$id&label=5&labeler=alice" \
    "$URL/api/label?clip=$id&label=5&labeler=alice")" 403
done
check_eq "cross-site fetch (Sec-Fetch-Site) refused" "$(code "${auth[@]}" -H "Sec-Fetch-Site: cross-site" -X POST \
  "$URL/api/label?clip=$id&label=5&labeler=alice")" 403
check_eq "no label written by another origin" "$(labels)" 0
check_eq "POST with its own Origin accepted" "$(code "${auth[@]}" -H "Origin: http://127.0.0.1:$PORT" \
  -H "Sec-Fetch-Site: same-origin" -X POST "$URL/api/label?clip=$id&label=4&labeler=alice")" 200
check_eq "... and written" "$(q $DB "SELECT label || labeler FROM labels")" 4alice
check_eq "POST with Origin localhost accepted" "$(code "${auth[@]}" -H "Origin: http://localhost:$PORT" \
  -H "Host: localhost:$PORT" -X POST "$URL/api/undo?clip=$id&labeler=alice")" 200

# --- the page: the printed URL sets the token as a cookie the page then carries
curl -s -D head.txt -o page.html -c jar.txt "$PAGE"
check "page served from the printed URL" grep -q "clipmill labelling" page.html
check "Set-Cookie: HttpOnly, SameSite=Strict, this port's name" \
  grep -Eiq "^set-cookie: clipmill_token_$PORT=$TOKEN;.*HttpOnly.*SameSite=Strict" head.txt
check_eq "the cookie alone opens the page" "$(code -b jar.txt "$URL/")" 200
check_eq "the cookie alone carries a label" "$(code -b jar.txt -X POST "$URL/api/label?clip=$id&label=2&labeler=bob")" 200
check_eq "the cookie alone fetches a sheet" "$(code -b jar.txt "$URL/sheet/$id.png")" 200

# --- 1,000 idle connections (half silent, half a request begun and never
# finished), then a real request: still answered at once.
cat > idle.py <<'EOF'
import resource, socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if i % 2:
        s.sendall(b"GET /api/next HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port)
    socks.append(s)
print(len(socks), "open", flush=True)
if hold < 0:   # wait for the server to close one: prints the seconds it took
    t = time.monotonic()
    socks[0].settimeout(60)
    print("closed after %.1f s" % (time.monotonic() - t) if socks[0].recv(1) == b"" else "data", flush=True)
else:
    time.sleep(hold)
EOF
$PY idle.py "$PORT" 1000 60 > idle.out 2>&1 & idle=$!
for _ in $(seq 300); do [ -s idle.out ] && break; sleep 0.1; done
check_eq "1,000 idle connections open" "$(head -1 idle.out)" "1000 open"
check_eq "a real request with 1,000 idle connections" "$(code --max-time 20 "${auth[@]}" "$URL/api/next?labeler=alice")" 200
check_eq "a real label with 1,000 idle connections" \
  "$(code --max-time 20 "${auth[@]}" -X POST "$URL/api/label?clip=$id&label=3&labeler=carol")" 200
kill $idle 2>/dev/null; wait $idle 2>/dev/null
stop

# --- a small limit and a short timeout: more idle connections than the limit
# hold up a real request only until they time out; an idle one is closed.
start --max-connections 8 --idle-timeout 2
auth=(-H "X-Clipmill-Token: $TOKEN")
$PY idle.py "$PORT" 20 30 > idle.out 2>&1 & idle=$!
for _ in $(seq 300); do [ -s idle.out ] && break; sleep 0.1; done
check_eq "a real request past the limit, within the timeouts" "$(code --max-time 30 "${auth[@]}" "$URL/api/next")" 200
kill $idle 2>/dev/null; wait $idle 2>/dev/null
$PY idle.py "$PORT" 1 -1 > idle.out 2>&1
check "an idle connection is closed after --idle-timeout 2" grep -Eq '^closed after [2-5]\.' <(tail -1 idle.out)
"$TRAIN" label -C c --idle-timeout 0 >/dev/null 2>&1; check_eq "--idle-timeout 0 refused" "$?" 2
"$TRAIN" label -C c --max-connections 0 >/dev/null 2>&1; check_eq "--max-connections 0 refused" "$?" 2
stop

# --- a real browser: the labelling page first (its cookie is set), then
# pages of other origins that try to label through fetch and a form post:
# localhost:OTHER (another site: the SameSite=Strict cookie is not sent) and
# 127.0.0.1:OTHER (the same site, another origin: the cookie is sent, the
# Origin check refuses).
if command -v chromium >/dev/null; then
  start --labeler dave
  mkdir -p evil
  cat > evil/index.html <<EOF
<!DOCTYPE html><html><body><p id=s>trying</p>
<form id=f method=POST action="http://127.0.0.1:$PORT/api/label?clip=$id&label=1&labeler=mallory" target=x>
<input name=clip value="$id"><input name=label value=1></form>
<iframe name=x></iframe><script>
const u = 'http://127.0.0.1:$PORT/api/label?clip=$id&label=1&labeler=mallory';
const done = () => { window.clipmillAttack = true; document.getElementById('s').textContent = 'done'; };
Promise.allSettled([fetch(u, {method: 'POST', mode: 'no-cors', credentials: 'include'}),
                    fetch(u, {method: 'POST', credentials: 'include'})])
  .then(() => { document.getElementById('f').submit(); setTimeout(done, 1500); });
</script></body></html>
EOF
  $PY -m http.server 0 --bind 127.0.0.1 --directory evil > evil.log 2>&1 & PIDS+=($!)
  for _ in $(seq 100); do grep -q 'port' evil.log && break; sleep 0.1; done
  ep=$(sed -n 's/.*port \([0-9]*\).*/\1/p' evil.log | head -1)
  $PY "$CLIPMILL_SRC/tests/browser/cdp.py" attack "$PAGE" attack.png "http://localhost:$ep/" "http://127.0.0.1:$ep/" > attack.out
  check_eq "browser: labelling page, then two pages of other origins" "$?" 0
  check_eq "browser: the other origins wrote no label" "$(q $DB "SELECT count(*) FROM labels WHERE labeler = 'mallory'")" 0
  check "browser: the tries of localhost:$ep reached the server and were refused" \
    grep -q "refused POST /api/label.*Origin http://localhost:$ep" server.err
  check "browser: the tries of 127.0.0.1:$ep reached the server and were refused" \
    grep -q "refused POST /api/label.*Origin http://127.0.0.1:$ep" server.err
  stop
else
  echo "chromium absent: browser part skipped"
fi
summary
