// Plain-FTP npm ftp-srv on loopback for rename_probe.py:
//   FTP_SRV_DIR=<install> node ftp_srv_plain.js ROOT USER PASSWORD PASV_MIN PASV_MAX
// Prints "listening PORT"; ends when stdin closes.
'use strict';
const path = require('path');
const dir = process.env.FTP_SRV_DIR;
const FtpSrv = require(path.join(dir, 'node_modules', 'ftp-srv'));
const bunyan = require(path.join(dir, 'node_modules', 'bunyan'));
const [root, user, password, pasvMin, pasvMax] = process.argv.slice(2);
const server = new FtpSrv({
  url: 'ftp://127.0.0.1:0', pasv_url: '127.0.0.1',
  pasv_min: Number(pasvMin), pasv_max: Number(pasvMax),
  log: bunyan.createLogger({ name: 'ftp-srv', level: 'fatal', stream: process.stderr }),
  greeting: 'ftp-srv probe',
});
server.on('login', ({ username, password: given }, resolve, reject) => {
  if (username === user && given === password) resolve({ root });
  else reject(new Error('bad login'));
});
server.listen().then(() => process.stdout.write(`listening ${server.server.address().port}\n`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
