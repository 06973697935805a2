// A port that is free for both UDP and TCP on 127.0.0.1, for servers started by tests.
import dgram from 'node:dgram';
import net from 'node:net';

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', (err) => {
      sock.close();
      reject(err);
    });
    sock.bind(port, '127.0.0.1', () => resolve(sock));
  });
}

function tryTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Binds UDP port 0 on 127.0.0.1, then checks that TCP can listen on the same number; both are
 * released before returning. Retries with a new port when TCP is taken. (There is a window between
 * return and use in which another process could take the port: tests accept that.)
 */
export async function freePort(attempts = 50): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const udp = await bindUdp(0);
    const port = udp.address().port;
    let tcpOk = false;
    try {
      tcpOk = await tryTcp(port);
    } finally {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
    if (tcpOk) return port;
  }
  throw new Error(`freePort: no port free for both UDP and TCP after ${attempts} attempts`);
}
