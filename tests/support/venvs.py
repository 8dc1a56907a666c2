"""Clean virtual environments for the packaging tests."""

from __future__ import annotations


def clean_venv(path) -> str:
    """A new virtual environment that sees this interpreter's installed packages, not this checkout.

    ``--system-site-packages`` is not enough when the tests themselves run in a
    virtual environment (``.ci/run`` makes one): the new environment would see
    the base Python's packages only. The running interpreter's site folders are
    listed in a ``.pth`` file instead; their own ``.pth`` files (this checkout's
    editable install among them) are not processed, so ``iwf_widget`` comes from
    whatever is installed into the new environment. Returns its python.
    """
    import subprocess
    import sys
    from pathlib import Path

    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True, timeout=120)
    python = Path(path) / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    folders = [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    (Path(site) / "iwf_test_parent_packages.pth").write_text("\n".join(folders) + "\n")
    return str(python)
