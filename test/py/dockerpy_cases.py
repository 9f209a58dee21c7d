"""docker-py (Debian python3-docker) flows against a daemon at $DOCKER_HOST.

Usage: python3 dockerpy_cases.py CASE   (CASE is a function name below without the `case_` prefix)
Each case asserts what it observes and prints "ok CASE" at the end; any failure is a traceback and
a non-zero exit. The image is $SOCKERLESS_TEST_REGISTRY/busybox:latest; names start with
$CASE_PREFIX so that parallel runs do not collide.
"""
import io
import os
import sys
import tarfile
import threading
import time

import docker
from docker.errors import APIError, ContainerError, ImageNotFound, NotFound

REGISTRY = os.environ["SOCKERLESS_TEST_REGISTRY"]
IMAGE = f"{REGISTRY}/busybox:latest"
PREFIX = os.environ.get("CASE_PREFIX", "clients-py")

client = docker.from_env(version="1.44", timeout=60)


def case_ping():
    assert client.ping() is True
    v = client.version()
    assert v["ApiVersion"] == "1.44", v
    info = client.info()
    assert info["OSType"] == "linux", info


def case_run():
    # attached run returns stdout; remove=True leaves nothing behind
    out = client.containers.run(IMAGE, ["sh", "-c", "echo out; echo err >&2"], remove=True)
    assert out == b"out\n", out
    both = client.containers.run(IMAGE, ["sh", "-c", "echo out; echo err >&2"], stderr=True, remove=True)
    assert sorted(both.splitlines()) == [b"err", b"out"], both
    # a non-zero exit raises ContainerError with the code and the stderr
    try:
        client.containers.run(IMAGE, ["sh", "-c", "echo bad >&2; exit 3"], name=f"{PREFIX}-fail")
        raise AssertionError("expected ContainerError")
    except ContainerError as e:
        assert e.exit_status == 3, e.exit_status
        assert b"bad" in e.stderr, e.stderr
    client.containers.get(f"{PREFIX}-fail").remove()
    # environment, working dir, labels, user-visible inspect
    c = client.containers.run(
        IMAGE,
        ["sh", "-c", 'echo "$GREETING in $(pwd)"; sleep 1000'],
        detach=True,
        name=f"{PREFIX}-run",
        environment={"GREETING": "hi"},
        working_dir="/srv",
        labels={"case": "run"},
    )
    try:
        assert c.name == f"{PREFIX}-run"
        c.reload()
        assert c.status == "running", c.status
        assert c.labels == {"case": "run"}, c.labels
        assert client.containers.list(filters={"label": "case=run"})[0].id == c.id
        assert wait_for(lambda: c.logs() == b"hi in /srv\n"), c.logs()
        assert c.image.id == client.images.get(IMAGE).id
    finally:
        c.remove(force=True)
    try:
        client.containers.get(c.id)
        raise AssertionError("container still there")
    except NotFound:
        pass
    # unknown image: ImageNotFound from run (no implicit pull of a missing tag in a registry)
    try:
        client.containers.run(f"{REGISTRY}/{PREFIX}-missing:none", "true")
        raise AssertionError("expected ImageNotFound")
    except ImageNotFound:
        pass


def case_logs():
    c = client.containers.run(
        IMAGE, ["sh", "-c", "echo one; echo two >&2; sleep 2; echo three"], detach=True
    )
    try:
        streamed = b"".join(c.logs(stream=True, follow=True))
        assert streamed == b"one\ntwo\nthree\n", streamed
        assert c.wait()["StatusCode"] == 0
        assert c.logs(stdout=True, stderr=False) == b"one\nthree\n"
        assert c.logs(stdout=False, stderr=True) == b"two\n"
        assert c.logs(tail=1) == b"three\n"
        ts = c.logs(timestamps=True).splitlines()
        assert len(ts) == 3 and ts[0].endswith(b" one") and ts[0][:4].isdigit(), ts
        # since/until (whole seconds in docker-py): "three" came >= 2 s after "one"
        first = parse_ts(ts[0].split(b" ")[0])
        assert c.logs(until=int(first) + 1) == b"one\ntwo\n", c.logs(until=int(first) + 1)
        assert c.logs(since=int(first) + 2) == b"three\n", c.logs(since=int(first) + 2)
    finally:
        c.remove(force=True)


def case_wait():
    c = client.containers.create(IMAGE, ["sh", "-c", "sleep 1; exit 7"])
    try:
        result = {}
        t = threading.Thread(target=lambda: result.update(c.wait(condition="next-exit")))
        t.start()  # waiting on a created container blocks until it has run
        time.sleep(0.3)
        assert t.is_alive()
        c.start()
        t.join(20)
        assert result.get("StatusCode") == 7, result
        assert c.wait(condition="not-running")["StatusCode"] == 7
        try:
            c.wait(timeout=0.5, condition="next-exit")
            raise AssertionError("expected a timeout")
        except Exception as e:  # requests' ReadTimeout / ConnectionError
            assert "timed out" in str(e).lower() or "timeout" in type(e).__name__.lower(), e
    finally:
        c.remove(force=True)
    r = client.containers.create(IMAGE, ["true"], auto_remove=True)
    done = {}
    t = threading.Thread(target=lambda: done.update(r.wait(condition="removed")))
    t.start()
    r.start()
    t.join(20)
    assert done.get("StatusCode") == 0, done


def case_exec():
    c = client.containers.run(IMAGE, ["sleep", "1000"], detach=True, environment={"A": "from-container"})
    try:
        r = c.exec_run(["sh", "-c", "echo $A $B; pwd; echo err >&2; exit 5"], environment={"B": "from-exec"}, workdir="/tmp")
        assert r.exit_code == 5, r
        assert r.output == b"from-container from-exec\n/tmp\nerr\n", r.output
        d = c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
        assert d.output == (b"out\n", b"err\n"), d.output
        s = c.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True)
        assert b"".join(s.output) == b"a\nb\n"
        t = c.exec_run("sh -c 'echo tty'", tty=True)
        assert t.output.replace(b"\r\n", b"\n") == b"tty\n", t.output
        assert c.exec_run("nosuchcmd").exit_code == 127
        # a stopped container refuses exec with 409
        c.stop(timeout=0)
        try:
            c.exec_run("true")
            raise AssertionError("expected APIError")
        except APIError as e:
            assert e.status_code == 409, e
    finally:
        c.remove(force=True)


def case_archive():
    c = client.containers.create(IMAGE, ["sh", "-c", "cat /data/in/hello.txt; sleep 1000"])
    try:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            add_file(tar, "in/hello.txt", b"hello from docker-py\n", 0o640)
            add_file(tar, "in/sub/deep.bin", bytes(range(256)) * 4, 0o600)
        # before start: the files are in place when the command runs
        client.api.put_archive(c.id, "/", make_dir_tar("data"))
        assert c.put_archive("/data", buf.getvalue()) is True
        c.start()
        assert wait_for(lambda: c.logs() == b"hello from docker-py\n"), c.logs()
        chunks, stat = c.get_archive("/data/in")
        assert stat["name"] == "in", stat
        assert stat["mode"] & (1 << 31), "a directory has the Go ModeDir bit"
        got = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
        names = sorted(m.name for m in got.getmembers())
        assert names == ["in", "in/hello.txt", "in/sub", "in/sub/deep.bin"], names
        assert got.extractfile("in/sub/deep.bin").read() == bytes(range(256)) * 4
        assert got.getmember("in/hello.txt").mode & 0o777 == 0o640
        _, fstat = c.get_archive("/data/in/hello.txt")
        assert fstat["size"] == len(b"hello from docker-py\n"), fstat
        try:
            c.get_archive("/data/nope")
            raise AssertionError("expected NotFound")
        except NotFound:
            pass
        # written by the container, read through the archive
        c.exec_run(["sh", "-c", "echo made inside > /tmp/made.txt"])
        chunks, _ = c.get_archive("/tmp/made.txt")
        assert tarfile.open(fileobj=io.BytesIO(b"".join(chunks))).extractfile("made.txt").read() == b"made inside\n"
    finally:
        c.remove(force=True)


def case_images():
    img = client.images.pull(f"{REGISTRY}/busybox", tag="latest")
    assert IMAGE in img.tags, img.tags
    assert img.attrs["Os"] == "linux"
    assert any(d.startswith(f"{REGISTRY}/busybox@sha256:") for d in img.attrs["RepoDigests"]), img.attrs
    again = client.images.pull(IMAGE)
    assert again.id == img.id
    target = f"{PREFIX}/tagged"
    assert img.tag(target, tag="v1") is True
    assert client.images.get(f"{target}:v1").id == img.id
    assert [i.id for i in client.images.list(name=target)] == [img.id]
    assert client.images.get(img.short_id.split(":")[1]).id == img.id
    hist = img.history()
    assert len(hist) >= 1 and hist[0]["Id"] == img.id, hist
    client.images.remove(f"{target}:v1")
    try:
        client.images.get(f"{target}:v1")
        raise AssertionError("tag still there")
    except ImageNotFound:
        pass
    assert client.images.get(IMAGE).id == img.id, "untagging kept the image"
    try:
        client.images.pull(f"{REGISTRY}/{PREFIX}-does-not-exist", tag="latest")
        raise AssertionError("expected an error")
    except (NotFound, APIError) as e:
        assert e.status_code == 404, e


def case_volumes():
    name = f"{PREFIX}-vol"
    v = client.volumes.create(name, labels={"case": "volumes"})
    try:
        assert v.name == name and v.attrs["Driver"] == "local"
        assert client.volumes.create(name).id == name, "create is idempotent"
        assert [x.name for x in client.volumes.list(filters={"label": "case=volumes"})] == [name]
        client.containers.run(IMAGE, ["sh", "-c", "echo shared > /v/f"], volumes={name: {"bind": "/v", "mode": "rw"}}, remove=True)
        out = client.containers.run(IMAGE, ["cat", "/v/f"], volumes=[f"{name}:/v:ro"], remove=True)
        assert out == b"shared\n", out
        user = client.containers.create(IMAGE, ["true"], volumes=[f"{name}:/v"])
        try:
            v.remove()
            raise AssertionError("a volume in use cannot be removed")
        except APIError as e:
            assert e.status_code == 409, e
        user.remove()
    finally:
        client.volumes.get(name).remove()
    anon = client.volumes.create(labels={"case": "volumes-prune"})
    pruned = client.volumes.prune(filters={"label": "case=volumes-prune"})
    assert anon.name in (pruned["VolumesDeleted"] or []), pruned


def case_networks():
    name = f"{PREFIX}-net"
    n = client.networks.create(name, driver="bridge", labels={"case": "networks"})
    a = b = None
    try:
        assert client.networks.get(n.id).name == name
        assert [x.id for x in client.networks.list(names=[name])] == [n.id]
        assert [x.id for x in client.networks.list(filters={"label": "case=networks"})] == [n.id]
        a = client.containers.run(IMAGE, ["sleep", "1000"], detach=True, name=f"{PREFIX}-a", network=name)
        b = client.containers.create(IMAGE, ["sleep", "1000"], name=f"{PREFIX}-b")
        n.connect(b, aliases=["bee"])
        b.start()
        n.reload()
        assert sorted(c.name for c in n.containers) == [f"{PREFIX}-a", f"{PREFIX}-b"]
        b.reload()
        ep = b.attrs["NetworkSettings"]["Networks"][name]
        assert "bee" in ep["Aliases"], ep
        assert ep["IPAddress"].count(".") == 3
        r = a.exec_run(["cat", "/etc/hosts"])
        hosts = r.output.decode()
        assert any(line.startswith(ep["IPAddress"]) and "bee" in line.split() for line in hosts.splitlines()), (
            r.exit_code,
            hosts,
        )
        n.disconnect(b, force=True)
        hosts = a.exec_run(["cat", "/etc/hosts"]).output.decode()
        assert "bee" not in hosts.split(), hosts
        n.reload()
        assert [c.name for c in n.containers] == [f"{PREFIX}-a"]
        try:
            n.remove()
            raise AssertionError("a network with endpoints cannot be removed")
        except APIError as e:
            assert e.status_code in (403, 409), e
    finally:
        for c in (a, b):
            if c is not None:
                c.remove(force=True)
        n.remove()
    try:
        client.networks.get(name)
        raise AssertionError("network still there")
    except NotFound:
        pass


def case_events():
    since = time.time()
    time.sleep(0.01)
    c = client.containers.run(IMAGE, ["sh", "-c", "exit 2"], detach=True, labels={"case": f"{PREFIX}-events"})
    c.wait()
    c.remove()
    other = client.containers.run(IMAGE, ["true"], detach=True)  # no label: filtered out
    other.wait()
    other.remove()
    until = time.time() + 0.5
    time.sleep(0.6)
    evs = list(
        client.events(
            since=since,
            until=until,
            decode=True,
            filters={"type": "container", "label": f"case={PREFIX}-events"},
        )
    )
    actions = [e["Action"] for e in evs]
    for want in ["create", "start", "die", "destroy"]:
        assert want in actions, actions
    assert actions.index("create") < actions.index("start") < actions.index("die") < actions.index("destroy")
    assert all(e["Actor"]["ID"] == c.id for e in evs), evs
    die = next(e for e in evs if e["Action"] == "die")
    assert die["Actor"]["Attributes"]["exitCode"] == "2", die
    assert die["Actor"]["Attributes"]["case"] == f"{PREFIX}-events", die
    assert die["Actor"]["Attributes"]["image"] == IMAGE, die
    only_die = list(client.events(since=since, until=until, decode=True, filters={"event": "die", "container": c.id}))
    assert [e["Action"] for e in only_die] == ["die"], only_die
    # live stream: an event arrives while we listen, then we close the stream
    stream = client.events(decode=True, filters={"type": "volume"})
    got = []
    t = threading.Thread(target=lambda: got.append(next(stream)))
    t.start()
    time.sleep(0.3)
    v = client.volumes.create(f"{PREFIX}-evvol")
    t.join(10)
    stream.close()
    v.remove()
    assert got and got[0]["Type"] == "volume" and got[0]["Action"] == "create", got
    assert got[0]["Actor"]["ID"] == f"{PREFIX}-evvol", got


def case_misc():
    c = client.containers.run(IMAGE, ["sh", "-c", "echo x > /tmp/new; sleep 1000"], detach=True, name=f"{PREFIX}-misc")
    try:
        assert wait_for(lambda: c.exec_run(["test", "-f", "/tmp/new"]).exit_code == 0)
        c.rename(f"{PREFIX}-renamed")
        c.reload()
        assert c.name == f"{PREFIX}-renamed", c.name
        top = c.top()
        assert "PID" in top["Titles"] and len(top["Processes"]) >= 1, top
        st = c.stats(stream=False)
        assert st["pids_stats"]["current"] >= 1, st
        changes = {(x["Path"], x["Kind"]) for x in c.diff()}
        assert ("/tmp/new", 1) in changes, changes
        export = b"".join(c.export())
        names = tarfile.open(fileobj=io.BytesIO(export)).getnames()
        assert "tmp/new" in names and "bin/busybox" in names, names[:20]
        c.kill(signal="SIGKILL")
        assert c.wait()["StatusCode"] == 137
        pruned = client.containers.prune(filters={"label": "none=here"})
        assert c.id not in (pruned["ContainersDeleted"] or []), "prune honours its label filter"
        pruned = client.containers.prune()
        assert c.id in pruned["ContainersDeleted"], pruned
    finally:
        try:
            c.remove(force=True)
        except NotFound:
            pass
    df = client.df()
    assert any(IMAGE in (i["RepoTags"] or []) for i in df["Images"]), df["Images"]


def case_push():
    import uuid

    img = client.images.pull(IMAGE)
    repo = f"{REGISTRY}/{PREFIX}/pushed"
    tag = uuid.uuid4().hex[:8]
    assert img.tag(repo, tag=tag)
    lines = list(client.images.push(repo, tag=tag, stream=True, decode=True))
    errors = [l for l in lines if "error" in l or "errorDetail" in l]
    assert not errors, errors
    digest = next(l["aux"]["Digest"] for l in lines if "aux" in l)
    assert digest.startswith("sha256:"), lines
    client.images.remove(f"{repo}:{tag}")
    back = client.images.pull(repo, tag=tag)
    assert back.id == img.id, (back.id, img.id)
    assert f"{repo}@{digest}" in back.attrs["RepoDigests"], back.attrs["RepoDigests"]
    client.images.remove(f"{repo}:{tag}")


def case_build():
    import tempfile
    from docker.errors import BuildError

    with tempfile.TemporaryDirectory() as ctx:
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(
                f"FROM {IMAGE}\n"
                "ARG WHO=nobody\n"
                "COPY greeting.txt /app/greeting.txt\n"
                "RUN echo \"built for $WHO\" > /app/built.txt\n"
                "ENV MODE=prod\n"
                "WORKDIR /app\n"
                'CMD ["sh", "-c", "cat greeting.txt built.txt; echo $MODE"]\n'
            )
        with open(os.path.join(ctx, "greeting.txt"), "w") as f:
            f.write("hello\n")
        tag = f"{PREFIX}/built:1"
        image, logs = client.images.build(path=ctx, tag=tag, buildargs={"WHO": "py"}, labels={"case": "build"}, rm=True)
        text = "".join(l.get("stream", "") for l in logs)
        # --label adds a LABEL step, as dockerd's legacy builder does
        assert "Step 1/8" in text and "Step 8/8 : LABEL case=build" in text and "Successfully built" in text, text
        assert image.labels.get("case") == "build", image.labels
        assert tag in image.tags, image.tags
        out = client.containers.run(tag, remove=True)
        assert out == b"hello\nbuilt for py\nprod\n", out
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(f"FROM {IMAGE}\nRUN exit 7\n")
        try:
            client.images.build(path=ctx, tag=f"{PREFIX}/broken:1")
            raise AssertionError("expected BuildError")
        except BuildError as e:
            assert "exit 7" in str(e) or "returned a non-zero code: 7" in str(e), str(e)
        try:
            client.images.get(f"{PREFIX}/broken:1")
            raise AssertionError("a failed build left an image behind")
        except ImageNotFound:
            pass
        client.images.remove(tag)


# ------------------------------------------------------------------ helpers

def wait_for(fn, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.1)
    return False


def parse_ts(raw):
    """RFC3339Nano -> unix seconds (float)."""
    from datetime import datetime, timezone

    s = raw.decode()
    base, frac = (s[:-1].split(".") + ["0"])[:2]
    dt = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return dt.timestamp() + float("0." + frac)


def add_file(tar, name, data, mode):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def make_dir_tar(name):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
    return buf.getvalue()


if __name__ == "__main__":
    case = sys.argv[1]
    globals()["case_" + case]()
    print("ok " + case)
