#!/usr/bin/python3
"""A real RTSP server for Vigil's tests and benchmarks (gst-rtsp-server).

Each mount relays H.264 RTP arriving on a local UDP port (fed by an ffmpeg that
loops a clip in real time), so cameras can be killed, stalled and restarted
independently of the server. Run with Debian's /usr/bin/python3 (python3-gi).

  rtsp_server.py --port 0 --mount cam1=5004 --mount cam2=5006 [--user U --password P] [--address A]

Prints "READY <port>" on stdout once it accepts connections.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

CAPS = "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mount", action="append", default=[], help="name=udp_port")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()

    permissions = None
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(
            Gst.Structure.from_string("viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0]
        )

    for spec in args.mount:
        name, port = spec.split("=", 1)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            # A 4 MiB socket buffer: a 720p keyframe is a burst of ~150 datagrams, and
            # the default 208 KiB drops some of them when the machine is busy.
            f'( udpsrc port={int(port)} buffer-size=4194304 caps="{CAPS}" ! rtph264depay ! h264parse ! '
            f"rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        factory.set_shared(True)
        if permissions is not None:
            factory.set_permissions(permissions)
        mounts.add_factory(f"/{name}", factory)

    # Every client in its own thread: with the default single thread, a DESCRIBE that waits
    # for its mount's next keyframe (up to 1 s) holds up every other camera's, which no real
    # camera does (each has its own server). Measured: 8 mounts answered over 4.2 s, not 1.
    server.get_thread_pool().set_max_threads(64)
    server.attach(None)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    loop.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
