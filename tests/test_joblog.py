"""memreg.joblog: a job's log holds its rule, inputs, outputs, messages and traceback."""

import subprocess
import sys
import textwrap


def test_a_failing_job_leaves_its_traceback_in_the_log(tmp_path):
    log = tmp_path / "logs" / "job.log"
    script = textwrap.dedent(
        f"""
        import logging, types, warnings
        from memreg import joblog
        job = types.SimpleNamespace(rule="demo", input=["in.csv"], output=["out.csv"],
                                    log=[{str(log)!r}])
        joblog.start(job)
        logging.getLogger("memreg.demo").info("halfway")
        warnings.warn("a warning")
        raise ValueError("bad value 42")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 1
    text = log.read_text()
    lines = ["rule demo", "input in.csv", "output out.csv", "halfway", "a warning"]
    assert all(line in text for line in lines), text
    assert "Traceback (most recent call last)" in text and "ValueError: bad value 42" in text
    assert proc.stderr == ""  # everything went to the log
