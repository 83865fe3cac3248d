// A bare HTTP server on 127.0.0.1 (the loopback round-trip baseline): answers
// every request with a 2-byte body, prints its URL, runs until killed.
import { createServer } from 'node:http';

const srv = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
});
srv.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${srv.address().port}\n`));
