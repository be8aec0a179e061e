"""One run writes a run folder at a time (minigen.training.lock), and what Ctrl-C leaves behind is said
truthfully, with commands that can be pasted into a shell."""
import io as stdio
import os
import shlex
import socket
import subprocess
import sys
import textwrap

import pytest

from minigen import training
from minigen.models.classifier import ClassifierRecipe
from minigen.training import TrainingInterrupted, UsageError, train
from minigen.training.lock import LOCK, acquire, release, run_lock

QUIET = dict(log_every=1, checkpoint_every=500, stream=stdio.StringIO(), options={"arch": "mlp", "hidden": 16})


def dead_pid():
    """The id of a process that has finished (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def write_lock(folder, pid, host=None):
    (folder / LOCK).write_text(f"{pid} {host or socket.gethostname()}\n")


def test_the_lock_holds_the_pid_and_goes_when_released(tmp_path):
    path = acquire(tmp_path)
    assert open(path).read().split() == [str(os.getpid()), socket.gethostname()]
    with pytest.raises(UsageError, match=r"being written by another run \(process \d+"):
        acquire(tmp_path)                               # the same folder, a second time
    release(path)
    assert not os.path.exists(path)


def test_a_live_runs_lock_is_refused_and_left_alone(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(tmp_path, holder.pid)
        with pytest.raises(UsageError, match=f"process {holder.pid}"):
            train("classifier", "digits", out=tmp_path, steps=2, **QUIET)
        assert (tmp_path / LOCK).read_text().split()[0] == str(holder.pid)
        assert sorted(os.listdir(tmp_path)) == [LOCK]      # nothing else was written
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over_with_a_message(tmp_path):
    write_lock(tmp_path, dead_pid())
    stream = stdio.StringIO()
    run = train("classifier", "digits", out=tmp_path, steps=2, **{**QUIET, "stream": stream})
    assert run.step == 2 and "taking over the lock" in stream.getvalue()
    assert not (tmp_path / LOCK).exists()


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    write_lock(tmp_path, dead_pid(), host="some-other-machine")
    with pytest.raises(UsageError, match="on some-other-machine"):
        acquire(tmp_path)


def test_the_lock_is_released_on_errors_and_ctrl_c(tmp_path, monkeypatch):
    def stop(step, metrics):
        raise KeyboardInterrupt
    with pytest.raises(TrainingInterrupted):
        train("classifier", "digits", out=tmp_path / "a", steps=5, callback=stop, **QUIET)
    assert not (tmp_path / "a" / LOCK).exists()
    monkeypatch.setattr(ClassifierRecipe, "train_step", lambda self, batch, step: {"loss": float("nan")})
    with pytest.raises(training.TrainingDiverged):
        train("classifier", "digits", out=tmp_path / "b", steps=5, **QUIET)
    assert not (tmp_path / "b" / LOCK).exists()


def test_of_two_runs_starting_at_once_exactly_one_gets_the_folder(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from minigen.training.lock import run_lock
        from minigen.recipe import UsageError
        try:
            with run_lock({str(tmp_path)!r}):
                print("locked", flush=True)
                time.sleep(2)
        except UsageError as e:
            print("refused", flush=True)
    """)
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = sorted(run.communicate(timeout=60)[0].strip() for run in runs)
    assert outcomes == ["locked", "refused"]


def test_run_lock_is_a_context_manager_for_callers_that_write_a_folder(tmp_path):
    with run_lock(tmp_path) as path:
        assert os.path.exists(path)
    assert not os.path.exists(path)


# ---------------------------------------------------------------------------------- what Ctrl-C says
def test_ctrl_c_before_any_checkpoint_does_not_offer_a_resume(tmp_path, monkeypatch):
    """A second Ctrl-C inside a step, before the first checkpoint: nothing to resume from, and the
    message says so instead of printing a --resume command that would fail."""
    original = ClassifierRecipe.train_step

    def second_ctrl_c_mid_step(self, batch, step):
        if step == 2:
            raise KeyboardInterrupt
        return original(self, batch, step)
    monkeypatch.setattr(ClassifierRecipe, "train_step", second_ctrl_c_mid_step)
    with pytest.raises(TrainingInterrupted) as caught:
        train("classifier", "digits", out=tmp_path, steps=20, **QUIET)
    message = str(caught.value)
    assert "middle of step 3" in message and "nothing to resume" in message
    assert "--resume" not in message and not (tmp_path / "checkpoint.npz").exists()
    with pytest.raises(UsageError, match="no checkpoint to resume from"):     # indeed
        train("classifier", "digits", out=tmp_path, steps=20, resume=True, **QUIET)


def test_the_resume_command_quotes_the_folder_so_it_can_be_pasted(tmp_path):
    out = tmp_path / "my run (2)"
    with pytest.raises(TrainingInterrupted) as caught:
        train("classifier", "digits", out=out, steps=20,
              callback=lambda step, metrics: (_ for _ in ()).throw(KeyboardInterrupt) if step == 3 else None,
              **QUIET)
    line = str(caught.value).splitlines()[-1]
    assert line.startswith("resume with: ")
    words = shlex.split(line[len("resume with: "):])
    assert words[:3] == ["minigen", "train", "classifier"] and words[-1] == "--resume"
    assert words[words.index("--out") + 1] == str(out)
    run = train("classifier", "digits", out=words[words.index("--out") + 1], steps=20, resume=True, **QUIET)
    assert run.step == 20
