// LetsRobot's four socket.io servers and its HTTP discovery, on real npm socket.io servers.
//
// The protocol-3 fixture of the LetsRobot conformance tests (test/test_letsrobot_conformance.py):
// python-socketio's server speaks Engine.IO 4 only, so the servers LetsRobot ran (socket.io 1.x,
// Engine.IO 3) are played here by the real packages, pinned in package-lock.json:
// `node server.js --sio sio1|sio2|sio4 [--ping-interval MS] [--ping-timeout MS]`.
// Modules resolve from NODE_PATH (scripts/peers.sh installs them to .ros/peers/letsrobot).
//
// Ports (127.0.0.1, picked by the system): one HTTP port for discovery (`/get_*`), settings
// (`/api/v1/robots/<id>`) and the control surface (`/sim/*`, the same shapes as letsrobot_sim
// where both have a route), and one socket.io server each for control, chat, app and user.
// The first stdout line is `letsrobot_peer: {"version":..,"ports":{..}}`.
//
// Control surface (JSON bodies): GET /sim/state; POST /sim/emit {socket, event, data};
// POST /sim/drop {socket}; POST /sim/restart {socket, down_ms} (the server goes away and
// comes back on the same port); POST /sim/move {socket} (a new server on a new port, the old
// one closed, discovery answers the new port).
'use strict';

const http = require('http');

const SOCKETS = ['control', 'chat', 'app', 'user'];
const IDENTIFY = {control: 'robot_id', chat: 'identify_robot_id', app: 'identify_robot_id'};
const HOST = '127.0.0.1';
const OWNER = 'the_owner';

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const which = option('sio', 'sio4');
const pingInterval = Number(option('ping-interval', '25000'));
const pingTimeout = Number(option('ping-timeout', '20000'));
const sio = require(which);
// package.json is outside sio4's exports map: read it from beside the resolved entry point.
const version = JSON.parse(require('fs').readFileSync(
  require('path').join(require.resolve(which).split(`${which}/`)[0], which, 'package.json'))).version;
const received = [];
const servers = {};
let settings = {xres: 320, yres: 240, mic_enabled: true};

function record(socket, event, data) {
  received.push({socket, event, data, time: Date.now() / 1000});
  if (received.length > 5000) received.shift();
}

// One socket.io server on `port` (0: any); its counters survive restarts and moves.
function listen(name, port, counters) {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    const open = new Set();
    server.on('connection', (tcp) => { open.add(tcp); tcp.on('close', () => open.delete(tcp)); });
    const options = {pingInterval, pingTimeout};
    const io = typeof sio === 'function' ? sio(server, options) : new sio.Server(server, options);
    const live = new Set();
    io.on('connection', (socket) => {
      const conn = socket.conn;
      counters.connects += 1;
      conn.namespaceJoins = (conn.namespaceJoins || 0) + 1;
      counters.max_connections_per_session = Math.max(counters.max_connections_per_session,
                                                      conn.namespaceJoins);
      if (!conn.counted) {
        conn.counted = true;
        counters.sessions += 1;
        conn.on('heartbeat', () => { counters.heartbeats += 1; });
      }
      live.add(socket);
      const onevent = socket.onevent;
      socket.onevent = function (packet) {
        const [event, ...args] = packet.data || [];
        const data = args.length === 1 ? args[0] : args;
        record(name, event, data);
        if (event === IDENTIFY[name]) {
          counters.identifications += 1;
          socket.identified = true;
        }
        return onevent.call(this, packet);
      };
      socket.on('disconnect', (reason) => {
        live.delete(socket);
        if (!socket.endedByUs) {
          counters.drops += 1;
          counters.drop_reasons[reason] = (counters.drop_reasons[reason] || 0) + 1;
        }
      });
    });
    server.on('error', reject);
    server.listen(port, HOST, () => {
      resolve({name, io, server, open, live, port: server.address().port, counters});
    });
  });
}

function close(entry) {
  return new Promise((resolve) => {
    for (const socket of entry.live) socket.endedByUs = true;
    entry.server.close(() => resolve());
    for (const tcp of entry.open) tcp.destroy();
  });
}

function counters() {
  return {connects: 0, identifications: 0, sessions: 0, heartbeats: 0, drops: 0,
          drop_reasons: {}, max_connections_per_session: 0, restarts: 0, moves: 0};
}

function socketState(entry) {
  const identified = [...entry.live].filter((s) => s.identified).length;
  return {...entry.counters, connected: entry.live.size, identified, port: entry.port};
}

function state() {
  const sockets = {};
  for (const name of SOCKETS) sockets[name] = socketState(servers[name]);
  return {version, which, ping_interval_ms: pingInterval, ping_timeout_ms: pingTimeout,
          sockets, received: received.slice(-500), ports: ports()};
}

function ports() {
  const out = {http: httpPort};
  for (const name of SOCKETS) out[name] = servers[name].port;
  return out;
}

async function act(path, body) {
  const name = body.socket;
  if (path === '/sim/state') return state();
  if (!SOCKETS.includes(name)) throw new Error('need "socket": control, chat, app or user');
  const entry = servers[name];
  if (path === '/sim/emit') {
    const targets = [...entry.live];
    for (const socket of targets) {
      if ('data' in body) socket.emit(body.event, body.data); else socket.emit(body.event);
    }
    return {sent_to: targets.length};
  }
  if (path === '/sim/drop') {
    const targets = [...entry.live];
    for (const socket of targets) { socket.endedByUs = true; socket.disconnect(true); }
    return {dropped: targets.length};
  }
  if (path === '/sim/restart') {
    await close(entry);
    entry.counters.restarts += 1;
    await new Promise((resolve) => setTimeout(resolve, Number(body.down_ms || 0)));
    servers[name] = await listen(name, entry.port, entry.counters);
    return {port: servers[name].port};
  }
  if (path === '/sim/move') {
    const moved = await listen(name, 0, entry.counters);
    servers[name] = moved;
    entry.counters.moves += 1;
    await close(entry);
    return {port: moved.port};
  }
  throw new Error(`no route ${path}`);
}

function discovery(path) {
  const route = path.split('/')[1];
  if (route === 'get_control_host_port') return {host: HOST, port: servers.control.port};
  if (route === 'get_chat_host_port') return {host: HOST, port: servers.chat.port};
  if (route === 'get_robot_owner') return {owner: OWNER};
  if (path.startsWith('/api/v1/robots/')) return settings;
  if (path.startsWith('/api/v1/accounts/')) return {moderators: ['the_mod']};
  return null;
}

let httpPort = 0;
const control = http.createServer((req, res) => {
  let text = '';
  req.on('data', (chunk) => { text += chunk; });
  req.on('end', async () => {
    const path = req.url.split('?')[0];
    let status = 200;
    let answer = discovery(path);
    if (answer === null) {
      try {
        answer = await act(path, text ? JSON.parse(text) : {});
      } catch (err) {
        status = path.startsWith('/sim/') ? 400 : 404;
        answer = {error: String(err.message || err)};
      }
    }
    res.writeHead(status, {'Content-Type': 'application/json'});
    res.end(JSON.stringify(answer));
  });
});

async function main() {
  for (const name of SOCKETS) servers[name] = await listen(name, 0, counters());
  await new Promise((resolve) => control.listen(0, HOST, resolve));
  httpPort = control.address().port;
  process.stdout.write(`letsrobot_peer: ${JSON.stringify({version, ports: ports()})}\n`);
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`letsrobot_peer: ${err.stack || err}\n`);
  process.exit(1);
});
