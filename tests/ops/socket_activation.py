#!/usr/bin/env python3
"""Socket activation of each daemon with systemd-socket-activate, the way
the .socket units hand them their sockets (FileDescriptorName= names):

  sessiond-tcp      TCP listener: a client connecting gets the RustDesk Hash
                    frame (direct IP sends Hash first, spec connection 5.8)
  sessiond-handoff  the hand-off socket "sessiond" (nested activation with
                    the TCP one): a Handoff with a connected socket makes
                    sessiond talk RustDesk on it
  mediad            "mediad" SOCK_SEQPACKET: Hello answered with Hello
  hidd              "hidd": Hello, then a key press reaches backend=file

Each case skips (exit 77) while its daemon is not built.
    socket_activation.py CASE"""
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["KD_BUILD_DIR"]
SKIP = 77
WAIT = 10.0  # bound for a broken daemon; nothing depends on timing
IPC_VERSION = 1


# ---- protobuf by hand (only what these checks need) -----------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def hello(component):
    return field_varint(1, IPC_VERSION) + field_bytes(2, component.encode())


def read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def fields(buf):
    """Top-level (field number, wire type, value) of a message."""
    i, out = 0, []
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            ln, i = read_varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        out.append((num, wt, v))
    return out


# ---- helpers -------------------------------------------------------------

def program(name):
    path = os.path.join(BUILD, name, name)
    if not os.access(path, os.X_OK):
        print(f"SKIP: {name} not built yet ({path})")
        sys.exit(SKIP)
    return path


from kdunits import free_port  # noqa: E402  (one port policy for every test)


def write_config(tmp, extra=""):
    conf = os.path.join(tmp, "kvmdesk.conf")
    with open(conf, "w") as f:
        f.write(f"[general]\nstate_dir = {tmp}/state\n"
                f"runtime_dir = {tmp}/run\nlog_level = debug\n"
                "[video]\nsource = testpattern\nwidth = 320\nheight = 240\n"
                "fps = 10\n[audio]\nsource = none\n" + extra)
    os.makedirs(os.path.join(tmp, "run"), exist_ok=True)
    subprocess.run([os.path.join(BUILD, "kvmdeskctl", "kvmdeskctl"), "-c",
                    conf, "init"], check=True, capture_output=True)
    return conf


def wait_for_path(path, proc):
    deadline = time.monotonic() + WAIT
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"FAIL: {path} never appeared")
        time.sleep(0.02)


def recv_exact(sock, n):
    data = b""
    deadline = time.monotonic() + WAIT
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            raise SystemExit(f"FAIL: timed out after {len(data)} of {n} bytes")
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit(f"FAIL: closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def recv_frame(sock):
    """One RustDesk BytesCodec frame: 1-4 byte LE header, (len<<2)|(hlen-1)."""
    first = recv_exact(sock, 1)
    hlen = (first[0] & 3) + 1
    header = first + recv_exact(sock, hlen - 1)
    n = int.from_bytes(header, "little") >> 2
    return recv_exact(sock, n)


def expect_hash(sock, what):
    msg = recv_frame(sock)
    f = fields(msg)
    if not f or f[0][0] != 9 or f[0][1] != 2:
        raise SystemExit(f"FAIL: {what}: first message is not Hash: {f}")
    h = dict((n, v) for n, _, v in fields(f[0][2]))
    if not h.get(1) or not h.get(2):
        raise SystemExit(f"FAIL: {what}: Hash without salt/challenge: {h}")
    print(f"{what}: got Hash (salt {len(h[1])} bytes, challenge "
          f"{h[2].decode(errors='replace')!r})")


def wait_listening(proc, port):
    """True once something listens on port; False if proc exited."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as probe:
            # A listening socket refuses a second bind; nothing connects.
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return True
        time.sleep(0.02)
    return False


def seqpacket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(WAIT)
    s.connect(path)
    return s


def recv_packet(s, what):
    try:
        data = s.recv(65536)
    except socket.timeout:
        raise SystemExit(f"FAIL: {what}: no answer")
    if not data:
        raise SystemExit(f"FAIL: {what}: connection closed")
    return data


def activate(args, log):
    return subprocess.Popen(["systemd-socket-activate", *args],
                            stdout=log, stderr=subprocess.STDOUT)


def stop(proc, log):
    proc.terminate()
    try:
        proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.flush()
    with open(log.name, "rb") as f:
        text = f.read().decode(errors="replace")
    print("--- daemon output ---")
    print(text[-4000:])


# ---- cases -----------------------------------------------------------------

def case_sessiond_tcp(tmp, log):
    exe = program("sessiond")
    conf = write_config(tmp, "[session]\ndirect_ip = on\n")
    for attempt in range(3):
        port = free_port()
        proc = activate(["-l", f"127.0.0.1:{port}", "--fdname=sessiond-tcp",
                         exe, "-c", conf], log)
        if wait_listening(proc, port):
            break
        stop(proc, log)  # another test took the port meanwhile: retry
    else:
        raise SystemExit("FAIL: systemd-socket-activate never listened")
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        expect_hash(c, "direct IP via socket activation")
        c.close()
        # The listener stays with sessiond: a second client works too.
        c = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        expect_hash(c, "second client")
        c.close()
    finally:
        stop(proc, log)


def case_sessiond_handoff(tmp, log):
    exe = program("sessiond")
    conf = write_config(tmp)
    sock_path = os.path.join(tmp, "run", "sessiond.sock")
    for attempt in range(3):
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        log.seek(0)
        log.truncate()
        try:
            return handoff_once(exe, conf, sock_path, log)
        except SystemExit:
            with open(log.name, "rb") as f:
                if b"Address already in use" not in f.read():
                    raise
        print("the TCP port was taken meanwhile: retrying")
    raise SystemExit("FAIL: no free TCP port")


def handoff_once(exe, conf, sock_path, log):
    port = free_port()  # the inner listener; not connected to here
    # Nested: the outer passes "sessiond" (SEQPACKET, fd 3), the inner adds
    # "sessiond-tcp" (fd 4) and names both - as the two .socket units do.
    proc = activate(["--seqpacket", "-l", sock_path, "--fdname=sessiond",
                     "systemd-socket-activate", "-l", f"127.0.0.1:{port}",
                     "--fdname=sessiond:sessiond-tcp", exe, "-c", conf], log)
    try:
        wait_for_path(sock_path, proc)
        s = seqpacket(sock_path)
        # TCP so the test can play the client on the other end.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        peer = socket.create_connection(srv.getsockname(), timeout=WAIT)
        ours, addr = srv.accept()
        ours.settimeout(WAIT)
        # RendezvousToSession{hello}, then {handoff{how, peer_addr,
        # secure=false}} with the socket.
        s.send(field_bytes(1, hello("rendezvousd")))
        handoff = (field_bytes(1, b"lan") +
                   field_bytes(2, f"{addr[0]}:{addr[1]}".encode()))
        socket.send_fds(s, [field_bytes(2, handoff)], [peer.fileno()])
        peer.close()
        expect_hash(ours, "hand-off via socket activation")
        ours.close()
        s.close()
    finally:
        stop(proc, log)


def case_mediad(tmp, log):
    exe = program("mediad")
    conf = write_config(tmp)
    sock_path = os.path.join(tmp, "run", "mediad.sock")
    proc = activate(["--seqpacket", "-l", sock_path, "--fdname=mediad",
                     exe, "-c", conf], log)
    try:
        wait_for_path(sock_path, proc)
        s = seqpacket(sock_path)
        s.send(field_bytes(1, hello("sessiond-worker")))
        f = fields(recv_packet(s, "mediad"))
        if not f or f[0][0] != 1:
            raise SystemExit(f"FAIL: mediad did not answer Hello: {f}")
        print("mediad: answered Hello on the activated socket")
        s.close()
    finally:
        stop(proc, log)


def case_hidd(tmp, log):
    exe = program("hidd")
    out_dir = os.path.join(tmp, "hid")
    os.makedirs(out_dir)
    conf = write_config(tmp, f"[hid]\nbackend = file\nfile_dir = {out_dir}\n")
    sock_path = os.path.join(tmp, "run", "hidd.sock")
    proc = activate(["--seqpacket", "-l", sock_path, "--fdname=hidd",
                     exe, "-c", conf], log)
    try:
        wait_for_path(sock_path, proc)
        s = seqpacket(sock_path)
        s.send(field_bytes(1, hello("sessiond-worker")))
        # InputEvent{key{usage 0x04 ('a'), PRESS}}
        s.send(field_bytes(2, field_varint(1, 0x04) + field_varint(2, 2)))
        kbd = os.path.join(out_dir, "keyboard")
        deadline = time.monotonic() + WAIT
        while True:
            data = open(kbd, "rb").read() if os.path.exists(kbd) else b""
            if any(len(data) >= i + 8 and data[i + 2] == 0x04
                   for i in range(0, len(data), 8)):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"FAIL: no 'a' report in {kbd}: {data!r}")
            time.sleep(0.02)
        print(f"hidd: key press reached the file backend ({len(data)} bytes)")
        s.close()
    finally:
        stop(proc, log)


CASES = {
    "sessiond-tcp": case_sessiond_tcp,
    "sessiond-handoff": case_sessiond_handoff,
    "mediad": case_mediad,
    "hidd": case_hidd,
}


def main():
    case = CASES[sys.argv[1]]
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "daemon.log"), "w+b") as log:
            case(tmp, log)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
