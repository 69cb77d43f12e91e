"""Fetch more still photographs for training from Debian packages: the 14 photographs of Ubuntu's 2018 wallpaper
contest and one of its 2020 set, shipped in `lomiri-wallpapers-16.04` and `lomiri-wallpapers-20.04` (CC-BY-4.0,
CC-BY-SA-3.0 or 4.0 and CC0; the packages' copyright files are copied beside them). The 23 photos in
../shared/data/train come from two other wallpaper packages (mate-backgrounds, plasma-workspace-wallpapers), whose
other pictures are drawings, as are those of gnome-backgrounds and ukui-wallpapers.

Each is resized (area) to at most 2560 pixels on its long side, the largest of the shared photos, so the loader's
`hr_downscale` and `photo_scales` sample them at the same scales as the shared ones.

    python scripts/extra_photos.py runs/photos_lomiri
    # then: --set "data.photos=[../shared/data/train/photos, runs/photos_lomiri]"

Needs `apt-get download` (a Debian/Ubuntu host with package sources) and dpkg-deb; a training run only needs the
folder it writes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

# Package → the photographs in it (its other pictures are drawings). Listed by name so the set is fixed.
PHOTOS = {
    "lomiri-wallpapers-16.04": [
        "Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg",
        "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg",
        "analogpattern_by_Peter_Nerlich.jpg", "free_by_Peter_Nerlich.jpg", "friends_by_Aitzol_Berasategi.jpg",
        "greentock_by_Peter_Nerlich.jpg", "life_by_Aitzol_Berasategi.jpg",
        "picosdeeuropa_by_Aitzol_Berasategi.jpg", "seeding_by_Clements_Engelhardt.jpg",
        "sunset_by_Aitzol_Berasategi.jpg",
    ],
    "lomiri-wallpapers-20.04": ["Kleiber_by_Lukas_Baubkus.jpg"],
}
LONG_SIDE = 2560


def fetch(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    with tempfile.TemporaryDirectory() as tmp:
        for package, names in PHOTOS.items():
            subprocess.run(["apt-get", "download", package], cwd=tmp, check=True, capture_output=True)
            deb = next(Path(tmp).glob(f"{package}_*.deb"))
            root = Path(tmp) / package
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            shutil.copy(next(root.rglob("copyright")), out / f"COPYRIGHT-{package}")
            for name in names:
                image = cv2.imread(str(next(root.rglob(name))), cv2.IMREAD_COLOR)
                factor = LONG_SIDE / max(image.shape[:2])
                if factor < 1:
                    image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
                if not cv2.imwrite(str(out / name), image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
                    raise OSError(f"cannot write {out / name}")
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the photos to")
    args = parser.parse_args()
    try:
        count = fetch(args.out)
    except (subprocess.CalledProcessError, StopIteration) as error:
        sys.exit(f"extra_photos: could not fetch the packages ({error}); needs apt-get and dpkg-deb with Debian "
                 f"sources")
    except OSError as error:  # a missing apt-get, or an unwritable folder
        sys.exit(f"extra_photos: {error}")
    print(f"{count} photos in {args.out}")


if __name__ == "__main__":
    main()
