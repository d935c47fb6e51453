"""The lab's numbers and API: the heat map is D, the arrows are -grad of G's loss, D* is the formula,
the 1-D Figure 1 panels are G and D before and after an iteration's D and G steps; every bad setting is a
422 that names it; sessions are capped and stop by themselves."""
import copy
import math
import time

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
from fastapi.testclient import TestClient

from gankit.lab.app import create_lab_app
from gankit.lab.session import LabSession, kde_logpdf, unb64
from gankit.lab.settings import LabSettings
from gankit.models import pack


@pytest.fixture(scope="module")
def ring():
    s = LabSession(LabSettings(data="ring", steps=40), idle_timeout=60)
    assert "p_g" not in s.frame  # the 2-D overlay's KDE is computed only while shown
    s.control("set", dstar=True).result(10)
    for action in ("d_step", "g_step", "step", "step"):
        s.control(action).result(10)
    yield s
    s.close()


def test_stepping_follows_algorithm_1():
    s = LabSession(LabSettings(data="grid", n_critic=3, steps=5), idle_timeout=60)
    try:
        st = s.control("d_step").result(10)
        assert (st["d_steps"], st["step"], st["k_done"]) == (1, 0, 1)
        st = s.control("step").result(10)  # the 2 remaining D steps, then one G step
        assert (st["d_steps"], st["step"], st["k_done"]) == (3, 1, 0)
        st = s.control("g_step").result(10)
        assert (st["d_steps"], st["step"]) == (3, 2)
        st = s.control("play").result(10)
        deadline = time.monotonic() + 20
        while s.status != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.status == "done" and s.g_steps == 5 and s.d_steps == 3 + 3 * 3  # stops by itself at `steps`
        assert s.trainer.step == 5
    finally:
        s.close()


def test_heat_map_is_d_on_the_grid(ring):
    f, t = ring.frame, ring.trainer
    t.D.eval()
    with torch.no_grad():
        expected = torch.sigmoid(t.D(ring.grid)).numpy()
    t.D.train()
    heat = unb64(f["heat"])
    assert heat.shape == (48 * 48,) and np.abs(heat - expected).max() < 1e-6
    assert heat.std() > 0  # not a constant picture


def test_arrows_are_minus_grad_of_g_loss(ring):
    t = ring.trainer
    fake = torch.from_numpy(unb64(ring.frame["fake"]).reshape(-1, 2).copy()).requires_grad_(True)
    with torch.no_grad():
        assert np.abs(t.G(ring.z_fixed[:len(fake)]).numpy() - fake.detach().numpy()).max() < 1e-6
    t.D.eval()
    loss = t.objective.g_loss(t.D(fake)) * len(fake)  # the sum of each point's own term
    (g,) = torch.autograd.grad(loss, fake)
    t.D.train()
    arrows = unb64(ring.frame["arrows"]).reshape(-1, 2)
    assert np.abs(arrows + g.numpy()).max() < 1e-6 and np.abs(arrows).max() > 0
    # non-saturating: -log sigmoid(l), so the arrow points up D's logit: moving along it raises D(x)
    x = fake.detach()
    with torch.no_grad():
        assert (t.D(x + 1e-3 * torch.from_numpy(arrows.copy())) > t.D(x)).float().mean() > 0.95


def test_dstar_overlay_is_the_formula(ring):
    f = ring.frame
    x = ring.grid.numpy().astype(np.float64)
    centres, std = np.array([[2 * math.cos(a), 2 * math.sin(a)] for a in np.arange(8) * math.pi / 4]), 0.02
    log_pd = scipy.special.logsumexp([scipy.stats.multivariate_normal(c, std**2).logpdf(x) for c in centres], 0) \
        - math.log(8)
    fake = unb64(f["fake"]).reshape(-1, 2)[:300].astype(np.float64)
    kde = scipy.stats.gaussian_kde(fake.T)
    assert np.allclose(unb64(f["p_g"]), kde.pdf(x.T), rtol=1e-4, atol=1e-12)
    # p_d / (p_d + p_g), in logs: the ring's sigma 0.02 underflows p_d far from its modes
    log_pg = kde.logpdf(x.T)
    want = np.exp(log_pd - np.logaddexp(log_pd, log_pg))
    dstar = unb64(f["dstar"])
    assert np.abs(dstar - want).max() < 1e-5 and want.max() > 0.5 > want.min()
    assert dstar.min() >= 0 and dstar.max() <= 1


def test_kde_matches_scipy():
    r = np.random.default_rng(0)
    s, x = r.normal(size=(300, 2)) @ [[1, 0.3], [0, 0.5]], r.normal(size=(50, 2)) * 2
    assert np.abs(kde_logpdf(s, x) - scipy.stats.gaussian_kde(s.T).logpdf(x.T)).max() < 1e-8


def test_1d_frames_and_packing():
    s = LabSession(LabSettings(data="gauss1d", pack=2, steps=10), idle_timeout=60)
    try:
        s.control("step").result(10)
        f, t = s.frame, s.trainer
        x = s.grid
        t.D.eval()
        with torch.no_grad():  # with packing, D judges 2 copies of each x
            expected = torch.sigmoid(t.D(pack(x.repeat_interleave(2, 0), 2))).numpy()
        t.D.train()
        assert np.abs(unb64(f["heat"]) - expected).max() < 1e-6
        x64 = x.numpy()[:, 0].astype(np.float64)
        p_d = scipy.stats.norm(0, 1).pdf(x64)
        p_g = scipy.stats.gaussian_kde(unb64(f["fake"])[:300].astype(np.float64)).pdf(x64)
        assert np.abs(unb64(f["dstar"]) - p_d / (p_d + p_g)).max() < 1e-5
        assert "metrics" not in f and s.hello()["dim"] == 1
    finally:
        s.close()


def _copy(module):
    """A copy of a network with its weights now, in eval mode (to evaluate later, after it trained on)."""
    return copy.deepcopy(module).eval()


@pytest.mark.parametrize("extra, p_data", [
    ({"data": "gauss1d"}, lambda x: scipy.stats.norm(0, 1).pdf(x)),
    ({"data": "bimodal1d", "spectral_norm": True},
     lambda x: 0.5 * scipy.stats.norm(-2, 0.6).pdf(x) + 0.5 * scipy.stats.norm(2, 0.6).pdf(x)),
])
def test_figure1_panels_are_the_latest_iteration(extra, p_data):
    """Figure 1 (a) = G, D before the iteration's D steps; (b) its D after them; (c) G after its G step
    = G now; (d) D* for G now. Each curve against the Python API on the same grid / z."""
    s = LabSession(LabSettings(n_critic=2, lr_d=0.01, steps=50, **extra), idle_timeout=60)
    try:
        t, x = s.trainer, s.grid
        x64 = x.numpy()[:, 0].astype(np.float64)
        z1 = unb64(s.hello()["fig1_z"])
        assert np.abs(z1 - scipy.stats.norm.ppf((np.arange(25) + 0.5) / 25)).max() < 1e-6  # N(0,1)'s quantiles
        z = torch.from_numpy(z1.copy())[:, None]
        for _ in range(3):
            s.control("step").result(10)
        G0, D0 = _copy(t.G), _copy(t.D)  # the next iteration starts from these
        s.control("d_step").result(10)
        assert s.frame["fig1"]["pending"] is True  # (c): its G step is still to come
        s.control("d_step").result(10)
        Db = _copy(t.D)
        s.control("g_step").result(10)
        G1, D1 = _copy(t.G), _copy(t.D)
        F, f = s.frame["fig1"], s.frame
        assert F["pending"] is False and F["before"] == {"step": 3, "d_steps": 6} and f["d_steps"] == 8
        with torch.no_grad():
            want = {"gz_before": G0(z), "gz": G1(z), "d_before": torch.sigmoid(D0(x)),
                    "d_after_d": torch.sigmoid(Db(x)), "heat": torch.sigmoid(D1(x))}
            before = G0(s.z_fixed[:300]).numpy()[:, 0].astype(np.float64)
        got = {k: unb64(F[k]) if k in F else unb64(f[k]) for k in want}
        for k, v in want.items():
            assert got[k].shape == (v.numel(),) and np.abs(got[k] - v.numpy().ravel()).max() < 1e-6, k
        assert np.abs(got["d_before"] - got["d_after_d"]).max() > 1e-4  # (b): the D steps moved D
        assert np.abs(got["gz_before"] - got["gz"]).max() > 1e-5   # (c): the G step moved G(z)
        if not extra.get("spectral_norm"):  # a G step leaves D as it was (spectral norm: its power iteration runs)
            assert np.array_equal(got["d_after_d"], got["heat"])
        kde = scipy.stats.gaussian_kde(before)
        assert np.allclose(unb64(F["p_g_before"]), kde.pdf(x64), rtol=1e-4, atol=1e-12)
        pd, pg = p_data(x64), kde.pdf(x64)
        assert np.abs(unb64(F["dstar_before"]) - pd / (pd + pg)).max() < 1e-5
        pg_now = scipy.stats.gaussian_kde(unb64(f["fake"])[:300].astype(np.float64)).pdf(x64)
        assert np.abs(unb64(f["dstar"]) - pd / (pd + pg_now)).max() < 1e-5  # (d): D* for G now

        # one D step starts the next iteration: (a) is G and D as it began; (b) D now; (c) waits
        s.control("d_step").result(10)
        F = s.frame["fig1"]
        assert F["pending"] is True and F["before"] == {"step": 4, "d_steps": 8}
        with torch.no_grad():
            assert np.abs(unb64(F["d_before"]) - torch.sigmoid(D1(x)).numpy().ravel()).max() < 1e-6
            assert np.abs(unb64(F["gz_before"]) - G1(z).numpy().ravel()).max() < 1e-6
        assert np.array_equal(unb64(F["d_after_d"]), unb64(s.frame["heat"]))
        st = s.control("g_step").result(10)  # the iteration ends after 1 of its k = 2 D steps
        assert s.frame["fig1"]["pending"] is False and s.frame["fig1"]["before"]["step"] == 4 and st["step"] == 5
        D2 = _copy(t.D)
        s.control("g_step").result(10)  # an iteration with no D step: (a) and (b) share D
        F = s.frame["fig1"]
        assert F["before"] == {"step": 5, "d_steps": 9}
        with torch.no_grad():
            assert np.abs(unb64(F["d_before"]) - torch.sigmoid(D2(x)).numpy().ravel()).max() < 1e-6
        assert np.array_equal(unb64(F["d_before"]), unb64(F["d_after_d"]))
    finally:
        s.close()


def test_figure1_only_for_1d(ring):
    assert "fig1" not in ring.frame and ring.hello()["fig1_z"] is None


@pytest.fixture()
def client():
    app = create_lab_app(max_sessions=2, max_steps=1000, idle_timeout=60)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("settings, message", [
    ({"loss": "nope"}, "loss: Value error, unknown objective 'nope'; choose one of: hinge, lsgan, minimax, nonsaturating"),
    ({"lr_g": 0}, "lr_g: Input should be greater than 0"),
    ({"lr_d": "fast"}, "lr_d: Input should be a valid number"),
    ({"n_critic": 11}, "n_critic: Input should be less than or equal to 10"),
    ({"batch_size": 100, "pack": 3}, "pack (3) must divide batch_size (100)"),
    ({"g_hidden": "64,x"}, "g_hidden: Value error, must be comma-separated integers"),
    ({"d_hidden": [64, 1000]}, "d_hidden: Value error, each layer width must be in 1..512"),
    ({"data": "mnist"}, "data: Input should be 'ring', 'grid'"),
    ({"data": "custom"}, "data=custom needs points"),
    ({"data": "custom", "points": [[0, 0]] * 4}, "need 8..5000 points (got 4)"),
    ({"data": "custom", "points": [[0, 1e9]] * 8}, "point 0 must be [x, y]"),
    ({"bogus": 1}, "bogus: Extra inputs are not permitted"),
    ({"steps": 5000}, "steps: at most 1000 on this server (got 5000)"),
    ({"seed": -1}, "seed: Input should be greater than or equal to 0"),
])
def test_bad_settings_are_422_with_a_clear_message(client, settings, message):
    r = client.post("/api/lab/sessions", json={"tab": "t1", "settings": settings})
    assert r.status_code == 422 and message in r.json()["detail"], r.json()
    assert client.app.state.lab.sessions == {}


def test_api_sessions_caps_and_controls(client):
    assert client.post("/api/lab/sessions", json={"tab": "bad tab!"}).status_code == 422
    r = client.post("/api/lab/sessions", json={"tab": "t1", "settings": {"data": "ring", "loss": "minimax",
                                                                         "g_hidden": "32,32", "steps": "30"}})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["query"] == {"data": "ring", "loss": "minimax", "g_hidden": "32,32", "steps": 30}
    assert client.post(f"/api/lab/sessions/{a['id']}/control", json={"action": "jump"}).status_code == 422
    assert client.post(f"/api/lab/sessions/{a['id']}/control", json={"action": "step", "speed": -1}).status_code == 422
    st = client.post(f"/api/lab/sessions/{a['id']}/control", json={"action": "step"}).json()
    assert (st["step"], st["d_steps"]) == (1, 1)
    # a tab's new run in the same slot replaces its old one; slot b is a second (compare) run
    a2 = client.post("/api/lab/sessions", json={"tab": "t1", "settings": {}}).json()
    assert client.get(f"/api/lab/sessions/{a['id']}").status_code == 404
    b = client.post("/api/lab/sessions", json={"tab": "t1", "slot": "b", "settings": {"loss": "minimax"}})
    assert b.status_code == 201
    r = client.post("/api/lab/sessions", json={"tab": "t2", "settings": {}})
    assert r.status_code == 503 and "limit of 2" in r.json()["detail"]  # the global cap
    hello = client.get(f"/api/lab/sessions/{a2['id']}").json()
    assert hello["type"] == "hello" and hello["modes"]["rule"].startswith("a sample is high quality")
    assert client.delete(f"/api/lab/sessions/{a2['id']}").status_code == 204
    assert client.get(f"/api/lab/sessions/{a2['id']}").status_code == 404
    assert len(client.app.state.lab.sessions) == 1
    opts = client.get("/api/lab/options").json()
    assert "wgan-gp" in opts["losses"] and "gauss1d" in opts["data"] and opts["limits"]["max_steps"] == 1000
    page = client.get("/lab")
    assert page.status_code == 200 and "gankit lab" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/lab/static/../app.py").status_code == 404


def test_a_run_stops_when_its_page_is_gone():
    s = LabSession(LabSettings(steps=100000), idle_timeout=0.3)
    s.control("play").result(10)
    s.thread.join(10)
    assert not s.alive and not s.thread.is_alive()
    s.close()


def test_serve_has_a_lab_tab(tmp_path):
    """``gankit serve --lab``: the explorer with the lab's routes added; its page links the Lab tab."""
    import gankit
    from gankit.commands.serve import _lab_routes
    from gankit.serve.app import create_app

    from conftest import tiny

    gankit.train(tiny(steps=2), tmp_path / "run")
    with TestClient(create_app([tmp_path / "run"], extra_routes=_lab_routes())) as c:
        assert 'id="lab-tab" href="/lab"' in c.get("/").text and c.get("/api/features").json() == {"lab": True}
        assert c.get("/lab").status_code == 200 and c.get("/api/lab/options").status_code == 200
        assert c.post("/api/lab/sessions", json={"tab": "t", "settings": {"n_critic": 0}}).status_code == 422
    with TestClient(create_app([tmp_path / "run"])) as c:  # without --lab: no lab routes
        assert c.get("/api/lab/options").status_code == 404 and c.get("/api/features").json() == {"lab": False}


def test_custom_points_train(client):
    """Drawn / uploaded points: the run's data are those points (repeated up to a batch), plotted as real."""
    pts = [[math.cos(a), math.sin(a)] for a in np.linspace(0, 2 * math.pi, 40, endpoint=False)]
    r = client.post("/api/lab/sessions", json={"tab": "t3", "settings": {"data": "custom", "points": pts, "steps": 20}})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert client.post(f"/api/lab/sessions/{sid}/control", json={"action": "step"}).json()["step"] == 1
    hello = client.get(f"/api/lab/sessions/{sid}").json()
    real = unb64(hello["real"]).reshape(-1, 2)
    assert np.allclose(np.linalg.norm(real, axis=1), 1, atol=1e-6)  # every real point is one of the drawn ones
    assert hello["modes"] is None and hello["has_dstar"] is False and "points" not in hello["query"]


@pytest.mark.parametrize("extra", [{"loss": name} for name in
                                   ("minimax", "nonsaturating", "wasserstein", "wgan-gp", "lsgan", "hinge")]
                         + [{"r1_gamma": 1.0}, {"spectral_norm": True}, {"pack": 4}, {"n_critic": 3, "optimizer": "sgd"},
                            {"data": "moons"}, {"data": "spiral"}, {"data": "bimodal1d"}])
def test_every_objective_and_regulariser_runs(extra):
    s = LabSession(LabSettings(steps=3, **extra), idle_timeout=60)
    try:
        for _ in range(2):
            assert s.control("step").result(20)["status"] == "paused"
        st = s.control("step").result(20)
        assert st["status"] == "done" and st["step"] == 3 and st["d_steps"] == 3 * s.cfg.n_critic
        assert all(math.isfinite(v) for v in s.frame["last"]) and np.isfinite(unb64(s.frame["heat"])).all()
        assert s.control("play").result(20)["status"] == "done"  # nothing left to run
    finally:
        s.close()


def test_port_out_of_range_is_one_line():
    import subprocess
    import sys

    args = [sys.executable, "-m", "gankit", "lab", "--port", "99999"]
    out = subprocess.run(args, capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == \
        ["gankit: error: --port must be in 0..65535 (got 99999); 0 picks a free port"]
