// bench/static_server.js: a plain static file server for bench/download.sh,
// for when tests/http_server.py (one Python thread per connection) is the
// limit. Node's standard library only: 127.0.0.1, port 0 (any free port),
// written to PORT_FILE; GET and HEAD of the files directly under ROOT, with
// Content-Length, ETag and keep-alive; no Range.
//
//   node bench/static_server.js ROOT PORT_FILE
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const [root, portFile] = process.argv.slice(2);
if (!root || !portFile) {
  console.error('usage: node static_server.js ROOT PORT_FILE');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  const name = decodeURIComponent(req.url.split('?')[0].replace(/^\//, ''));
  if (!name || name.includes('/') || name === '.' || name === '..') {
    res.writeHead(404, { 'Content-Length': 0 });
    return res.end();
  }
  const file = path.join(root, name);
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404, { 'Content-Length': 0 });
      return res.end();
    }
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': st.size,
      'ETag': `"${st.size.toString(16)}-${st.mtimeMs.toString(16)}"`,
      'Last-Modified': st.mtime.toUTCString(),
    });
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', `${server.address().port}\n`);
  fs.renameSync(portFile + '.tmp', portFile);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
