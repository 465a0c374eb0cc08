#!/usr/bin/env python3
"""tools/bench/deadlocks.py BASE SECONDS THREADS: a mixed write load through
nginx on a PostgreSQL cluster (tools/bench/deadlocks starts it), made to
meet the row locks that writes on several pools take: professors answering
the same questions of a Q&A room, reactions and edits on the same recent
messages, a moderator kicking people who send and rejoin. Prints one JSON
object: requests by operation and status. Bounded: every request has a
10 s timeout and the run ends after SECONDS.
"""
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

PASSWORD = "correct-horse-battery"


class Api:
    def __init__(self, base, token=None):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = None

    def call(self, method, path, body=None):
        """(status, parsed JSON or None); status 0 for a broken connection."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = json.dumps(body) if body is not None else None
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                try:
                    return r.status, json.loads(raw) if raw else None
                except ValueError:
                    return r.status, None
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 1:
                    return 0, None
        return 0, None


def must(status_body, what):
    status, body = status_body
    if status // 100 != 2:
        sys.exit(f"deadlocks.py: setup {what}: HTTP {status} {body}")
    return body


def register(base, name):
    body = must(Api(base).call("POST", "/api/register", {"username": name, "password": PASSWORD}), name)
    return Api(base, body["token"]), body["user"]["username"]


def main():
    base, seconds, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    tag = str(int(time.time()) % 100000)
    owner, owner_name = register(base, "own" + tag)
    lab = must(owner.call("POST", "/api/rooms", {"name": "lab " + tag, "kind": "qa"}), "lab")["room"]["id"]
    mix = must(owner.call("POST", "/api/rooms", {"name": "mix " + tag, "kind": "public"}), "mix")["room"]["id"]
    people = []
    for i in range(threads):
        api, name = register(base, f"p{tag}x{i}")
        for room in (lab, mix):
            must(api.call("POST", f"/api/rooms/{room}/join"), "join")
        professor = i % 3 == 0
        if professor:
            must(owner.call("PUT", f"/api/rooms/{lab}/members/{name}", {"role": "professor"}), "role")
        people.append((api, name, professor))

    lock = threading.Lock()
    recent = []      # ids of recent messages in mix
    questions = []   # ids of recent questions in lab
    counts = {}
    end = time.monotonic() + seconds

    def note(op, status):
        with lock:
            counts.setdefault(op, {}).setdefault(str(status), 0)
            counts[op][str(status)] += 1

    def pick(ids):
        with lock:
            return random.choice(ids[-8:]) if ids else None

    def person(api, name, professor, seed):
        rnd = random.Random(seed)
        mine = []
        while time.monotonic() < end:
            r = rnd.random()
            if professor and r < 0.35:
                q = pick(questions)
                if q is None:
                    continue
                st, _ = api.call("POST", f"/api/messages/{q}/answer", {"text": "because"})
                note("answer", st)
            elif not professor and r < 0.2:
                st, body = api.call("POST", f"/api/rooms/{lab}/messages", {"text": "why?"})
                note("ask", st)
                if st == 201:
                    with lock:
                        questions.append(body["message"]["id"])
                        del questions[:-64]
            elif r < 0.6:
                st, body = api.call("POST", f"/api/rooms/{mix}/messages", {"text": "hello"})
                note("send", st)
                if st == 403:  # kicked: back in
                    note("rejoin", api.call("POST", f"/api/rooms/{mix}/join")[0])
                elif st == 201:
                    mine.append(body["message"]["id"])
                    del mine[:-8]
                    with lock:
                        recent.append(body["message"]["id"])
                        del recent[:-64]
            elif r < 0.85:
                m = pick(recent)
                if m is None:
                    continue
                emoji = rnd.choice(["a", "b", "c"])
                method = rnd.choice(["PUT", "DELETE"])
                note("react", api.call(method, f"/api/messages/{m}/reactions/{emoji}")[0])
            elif mine:
                note("edit", api.call("PATCH", f"/api/messages/{rnd.choice(mine)}", {"text": "edited"})[0])

    def moderator():
        rnd = random.Random(1)
        while time.monotonic() < end:
            _, name, _ = rnd.choice(people)
            note("kick", owner.call("DELETE", f"/api/rooms/{mix}/members/{name}")[0])
            time.sleep(0.02)

    workers = [threading.Thread(target=person, args=(*p, i)) for i, p in enumerate(people)]
    workers.append(threading.Thread(target=moderator))
    started = time.monotonic()
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=seconds + 30)
    took = time.monotonic() - started
    total = sum(sum(v.values()) for v in counts.values())
    unavailable = sum(v.get("503", 0) for v in counts.values())
    print(json.dumps({"requests": total, "seconds": round(took, 1), "unavailable_503": unavailable,
                      "by_op": counts}))


if __name__ == "__main__":
    main()
