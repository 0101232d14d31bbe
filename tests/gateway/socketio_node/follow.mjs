// Follows one task over Socket.IO with the official npm client, as a browser page would.
//
//   node follow.mjs <gateway url> <task_id> <token> <last seq> [transport]
//
// Prints one JSON object per line on stdout: connect, connected, joined_task (with the
// after_seq it joined with), task_update (seq, type), error, disconnect (reason),
// connect_error, and finally done (every seq received, in order) once <last seq> arrived.
// socket.io-client's own reconnection brings the socket back after a drop; on every
// (re)connect the script joins again with after_seq = the last seq it saw.
import { createRequire } from "node:module";

// socket.io-client lives in clients/js/node_modules (`npm ci` there).
const require = createRequire(new URL("../../../clients/js/package.json", import.meta.url));
const { io } = require("socket.io-client");

const [url, taskId, token, lastArg, transport = "websocket"] = process.argv.slice(2);
const last = Number(lastArg);
const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const seqs = [];
let lastSeq = 0;
let joinedWith = 0;

const socket = io(url, {
  transports: [transport],
  reconnectionDelay: 100,
  reconnectionDelayMax: 500,
  timeout: 10000,
});

const giveUp = setTimeout(() => {
  print({ event: "timeout", seqs });
  process.exit(2);
}, 60000);

socket.on("connect", () => {
  print({ event: "connect", id: socket.id });
  joinedWith = lastSeq;
  socket.emit("join_task", { task_id: taskId, token, after_seq: lastSeq });
});
socket.on("connected", (data) => print({ event: "connected", sid: data.sid }));
socket.on("joined_task", (data) =>
  print({ event: "joined_task", task_id: data.task_id, after_seq: joinedWith }),
);
socket.on("task_update", (update) => {
  seqs.push(update.seq);
  lastSeq = Math.max(lastSeq, update.seq);
  print({ event: "task_update", seq: update.seq, type: update.type });
  if (lastSeq >= last) {
    print({ event: "done", seqs });
    clearTimeout(giveUp);
    socket.disconnect();
  }
});
socket.on("error", (error) => print({ event: "error", ...error }));
socket.on("disconnect", (reason) => print({ event: "disconnect", reason }));
socket.on("connect_error", (error) => print({ event: "connect_error", message: error.message }));
