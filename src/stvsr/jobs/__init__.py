"""The user-facing jobs and their helpers: upscale a video (streamed or in resumable segments, shot by shot), a
folder of videos (locally or on a Ray cluster), the speed benchmark and export. Everything a job needs below it lives
in the layers (io, ops, models, inference); nothing below imports from here (CONTRIBUTING.md §1)."""
