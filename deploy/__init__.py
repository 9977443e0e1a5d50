"""Deployment files of the hub; `deploy.demo` is the live demo `make run` starts."""
