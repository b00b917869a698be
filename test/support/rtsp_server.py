#!/usr/bin/python3
"""A real RTSP server for Vigil's tests and benchmarks (gst-rtsp-server).

Each mount relays H.264 RTP arriving on a local UDP port (fed by an ffmpeg that
loops a clip in real time), so cameras can be killed, stalled and restarted
independently of the server. Run with Debian's /usr/bin/python3 (python3-gi).

  rtsp_server.py --port 0 --mount cam1=5004 --mount cam2=5006 [--user U --password P [--auth basic|digest]]
                 [--audio cam1] [--address A]

Prints "READY <port>" on stdout once it accepts connections, then "CLIENT +1" for
each RTSP connection it accepts and "CLIENT -1" when one closes (the benchmark
counts sessions per camera from these).
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

CAPS = "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mount", action="append", default=[], help="name=udp_port")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--auth", choices=["basic", "digest"], default="basic")
    parser.add_argument("--audio", action="append", default=[], help="a mount that also has an audio track")
    parser.add_argument("--hevc", action="append", default=[], help="a mount whose feeder sends H.265")
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
        if args.auth == "basic":
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        else:
            # RFC 2617 Digest with MD5 (gst-rtsp-server asks with qop=auth, and takes answers without it).
            # The binding takes one method, not BASIC|DIGEST, so a server asks for one kind of login.
            auth.add_digest(args.user, args.password or "", token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(
            Gst.Structure.from_string("viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0]
        )

    for spec in args.mount:
        name, port = spec.split("=", 1)
        factory = GstRtspServer.RTSPMediaFactory()
        # A camera with a microphone: audio first in the SDP, as many cameras list it.
        audio = (
            "audiotestsrc is-live=true wave=silence ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay0 pt=8 "
            if name in args.audio
            else ""
        )
        video_pay = "pay1" if audio else "pay0"
        codec = "h265" if name in args.hevc else "h264"
        caps = CAPS.replace("H264", "H265") if codec == "h265" else CAPS
        factory.set_launch(
            # A 4 MiB socket buffer: a 720p keyframe is a burst of ~150 datagrams, and
            # the default 208 KiB drops some of them when the machine is busy.
            f'( {audio}udpsrc port={int(port)} buffer-size=4194304 caps="{caps}" ! rtp{codec}depay ! {codec}parse ! '
            f"rtp{codec}pay name={video_pay} pt=96 config-interval=1 )"
        )
        factory.set_shared(True)
        if permissions is not None:
            factory.set_permissions(permissions)
        mounts.add_factory(f"/{name}", factory)

    # Every client in its own thread: with the default single thread, a DESCRIBE that waits
    # for its mount's next keyframe (up to 1 s) holds up every other camera's, which no real
    # camera does (each has its own server). Measured: 8 mounts answered over 4.2 s, not 1.
    server.get_thread_pool().set_max_threads(64)
    def client_connected(_server, client):
        print("CLIENT +1", flush=True)
        client.connect("closed", lambda _client: print("CLIENT -1", flush=True))

    server.connect("client-connected", client_connected)
    server.attach(None)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    loop.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
