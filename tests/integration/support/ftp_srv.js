// Runs npm's ftp-srv (a Node.js FTP server) on loopback for tests/integration/tls_data_first.rs:
//   FTP_SRV_DIR=<folder where `npm install ftp-srv` ran> node ftp_srv.js ROOT CERT KEY USER PASSWORD PASV_MIN PASV_MAX
// Explicit FTPS (AUTH TLS) with the given certificate; the port is chosen by the kernel and
// printed on stdout as "listening PORT" once the server accepts connections. ftp-srv sends a
// transfer's `150` only once the data connection's TLS handshake is done (issue 12, point 4).
// Ends when stdin closes (the test that started it went away) or on SIGTERM.
'use strict';
const path = require('path');
const fs = require('fs');

const dir = process.env.FTP_SRV_DIR;
if (!dir) {
  console.error('FTP_SRV_DIR is not set');
  process.exit(2);
}
const FtpSrv = require(path.join(dir, 'node_modules', 'ftp-srv'));
const bunyan = require(path.join(dir, 'node_modules', 'bunyan'));

const [root, cert, key, user, password, pasvMin, pasvMax] = process.argv.slice(2);
const server = new FtpSrv({
  url: 'ftp://127.0.0.1:0',
  pasv_url: '127.0.0.1',
  pasv_min: Number(pasvMin),
  pasv_max: Number(pasvMax),
  tls: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) },
  log: bunyan.createLogger({ name: 'ftp-srv', level: 'fatal', stream: process.stderr }),
  greeting: 'ftp-srv for ftpsync tests',
});
server.on('login', ({ username, password: given }, resolve, reject) => {
  if (username === user && given === password) resolve({ root });
  else reject(new Error('wrong user name or password'));
});
server.listen().then(() => {
  process.stdout.write(`listening ${server.server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
