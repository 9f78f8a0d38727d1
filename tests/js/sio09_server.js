// socket.io 0.9 server (the protocol of Kazoo 3.x Blackhole) for the stream wire tests:
// `node sio09_server.js <port> [--transports=websocket[,xhr-polling]] [--polling-duration=<s>]`
// (`--transports=xhr-polling` is a socket.io-cowboy that offers only long-polling).
'use strict';
const http = require('http');
const sio = require('sio09');
const { authorizer, serve, reply } = require('./control');

const port = parseInt(process.argv[2] || '0', 10);
const flag = (name, fallback) => {
  const hit = process.argv.slice(3).find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
};
const transports = flag('transports', 'websocket').split(',').filter(Boolean);
const pollingDuration = parseFloat(flag('polling-duration', '20'));
const state = { refused: new Set(), subscribes: 0, rejected: 0 };
const authorize = authorizer(state);
const raw = new Set();
const srv = http.createServer((req, res) => { res.writeHead(404); res.end(); });
// A client that resets its socket must not crash the server (socket.io 0.9 leaves write errors unhandled).
srv.on('connection', (s) => { raw.add(s); s.on('close', () => raw.delete(s)); s.on('error', () => {}); });
const io = sio.listen(srv, { log: false });
io.set('heartbeat interval', 5);
io.set('heartbeat timeout', 15);
io.set('transports', transports);
io.set('polling duration', pollingDuration);

io.sockets.on('connection', (socket) => {
  socket.subs = new Set();
  socket.on('subscribe', (body) => {
    const refusal = authorize(body);
    if (refusal) {
      state.rejected += 1;
      return socket.emit('auth_failure', { message: refusal, cause: body && body.auth_token });
    }
    state.subscribes += 1;
    socket.subs.add(String(body.binding).split('.')[1]);
  });
});

const sockets = () => io.sockets.clients();
serve({
  emit: (m) => {
    let sent = 0;
    for (const s of sockets()) if (s.subs.has(m.name)) { s.emit(m.name, m.payload); sent += 1; }
    return { sent };
  },
  kick: () => { const all = sockets(); for (const s of all) s.disconnect(); return { kicked: all.length }; },
  drop: () => { const n = raw.size; for (const s of raw) s.destroy(); return { dropped: n }; },
  refuse: (m) => { for (const t of m.tokens || []) state.refused.add(t); return {}; },
  stats: () => ({ subscribes: state.subscribes, rejected: state.rejected, sockets: sockets().length }),
});

srv.listen(port, '127.0.0.1', () => reply({ ready: true, port: srv.address().port }));
