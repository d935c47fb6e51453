"""The GAN explorer (``gankit serve``): a small web app and JSON/PNG API over trained runs.

Needs the optional extra ``pip install 'gankit[serve]'`` (FastAPI and uvicorn).
"""
from .latent import lerp, slerp, truncate_

__all__ = ["create_app", "lerp", "slerp", "truncate_"]


def create_app(*args, **kwargs):
    """See :func:`gankit.serve.app.create_app` (imported lazily: FastAPI is optional)."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)
