// Line-based control channel for the test servers: one JSON command per stdin line, one JSON reply per stdout line.
// Commands: {"cmd":"emit","name":..,"payload":..} {"cmd":"kick"} {"cmd":"drop"} {"cmd":"refuse","tokens":[..]}
//           {"cmd":"stats"}. The server exits when stdin closes, so a dying test never leaves it behind.
'use strict';
const readline = require('readline');

function authorizer(state) {
  return (body) => {
    if (!body || !body.account_id || !body.auth_token || !body.binding) return 'invalid subscribe payload';
    if (state.refused.has(body.auth_token)) return 'invalid auth token';
    return null;
  };
}

function serve(handlers) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let msg;
    try { msg = JSON.parse(line); } catch (e) { return reply({ ok: false, error: 'bad json' }); }
    const handler = handlers[msg.cmd];
    if (!handler) return reply({ ok: false, error: 'unknown cmd ' + msg.cmd });
    Promise.resolve(handler(msg)).then((out) => reply(Object.assign({ ok: true }, out || {})),
                                       (err) => reply({ ok: false, error: String(err) }));
  });
  rl.on('close', () => process.exit(0));
}

function reply(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

module.exports = { authorizer, serve, reply };
