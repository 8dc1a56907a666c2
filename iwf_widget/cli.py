"""The ``iwf-widget`` command: thin wrappers over the library's modules."""
from __future__ import annotations

import click

from .sealing import generate_keypair


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="iwf-widget")
def main() -> None:
    """An embeddable, anonymous report form and its central intake."""


@main.command()
def keygen() -> None:
    """Print a new intake key pair (private key for the intake, public key for partners)."""
    private, public = generate_keypair()
    click.echo(f"IWF_INTAKE_PRIVATE_KEY={private}")
    click.echo(f"IWF_WIDGET_INTAKE_PUBLIC_KEY={public}")


if __name__ == "__main__":  # pragma: no cover
    main()
