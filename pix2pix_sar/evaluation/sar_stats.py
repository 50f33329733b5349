"""Does a generated image have the statistics of real SAR, not only its structure?

Dice and SSIM reward a smooth image that follows the mask; a radar image is
speckled. Three statistics, accumulated over all validation patches of one
snapshot (real and generated images at the same places), tell the two apart:

* ``w1_db_<class>``: Wasserstein-1 distance (in dB) between the real and the
  generated intensity histograms of one zone class (ocean, glacier, rock). It is
  the mean shift needed to turn one distribution into the other: 0 when they are
  equal, and in dB so that it reads as a backscatter difference.
* ``enl_real_<class>``, ``enl_gen_<class>``, ``enl_ratio_<class>`` (gen / real):
  the equivalent number of looks, mean^2 / variance of *linear intensity*, as
  the median over non-overlapping 8x8 windows lying wholly inside one class
  (the homogeneous areas where ENL is defined). Real speckle gives a few looks;
  a smooth image gives many, so a ratio far above 1 means "too smooth", far
  below 1 "too noisy".
* ``spectral_distance_db``: a distribution-level score that needs no learned
  features or downloaded weights: the mean absolute difference, in dB, between
  the radially averaged power spectra of real and generated images (each image
  in dB, its mean removed, spectra averaged over all patches, DC excluded). The
  power spectrum holds all second-order statistics of a stationary field; speckle
  is nearly white, blurring removes high-frequency power and transposed-conv
  checkerboards add peaks (Durall et al., CVPR 2020), so equal spectra are
  necessary for a plausible SAR texture. 0 means equal spectra.
* ``spectra_patches``: how many patches the spectra were averaged over.

No-data never counts: pixels of zone 0 belong to no class, so they enter no
histogram and no ENL window, and a spectrum needs whole images, so only patches
without any no-data pixel enter the spectra (``spectra_patches`` of them; the
distance is NaN when there is none).

The model's range [-1, 1] maps to dB through the dataset's scaling
(:meth:`SarScaling.model_to_db`: clipped to [db_min, db_max] as the training
targets were); linear intensity is 10 ** (dB / 10) whatever the input units (dB
of amplitude and of intensity are the same number). Datasets in ``dn`` units (scaled numbers of unknown physics)
get W1 and the spectral distance in DN instead of dB, and no ENL (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pix2pix_sar.data.scaling import SarScaling
from pix2pix_sar.data.zones import GLACIER, OCEAN, ROCK, valid_zones

#: Zone classes compared separately, by the name used in CSV columns.
SAR_CLASSES: dict[str, int] = {"ocean": OCEAN, "glacier": GLACIER, "rock": ROCK}
#: Side of the square windows over which ENL is estimated.
ENL_WINDOW = 8
#: Histogram bins over [db_min, db_max] (the model cannot leave that range).
HIST_BINS = 128
#: Units whose dB values are 10 * log10(linear intensity), so ENL is defined.
RADIOMETRIC_UNITS = ("intensity", "amplitude", "db")


def stat_names() -> list[str]:
    """Column names of :meth:`SarStatistics.summary`, in order."""
    names = [f"w1_db_{c}" for c in SAR_CLASSES]
    for c in SAR_CLASSES:
        names += [f"enl_real_{c}", f"enl_gen_{c}", f"enl_ratio_{c}"]
    return [*names, "spectral_distance_db", "spectra_patches"]


def window_enl(intensity: np.ndarray, zones: np.ndarray, code: int, window: int = ENL_WINDOW) -> np.ndarray:
    """ENL (mean^2 / variance) of every window x window block wholly in zone `code`.

    `intensity` and `zones` are (N, H, W); returns a 1-D array (one per window).
    """
    n, h, w = zones.shape
    h, w = h - h % window, w - w % window

    def blocks(a):
        a = a[:, :h, :w].reshape(n, h // window, window, w // window, window)
        return a.transpose(0, 1, 3, 2, 4).reshape(-1, window * window)

    inside = (blocks(zones) == code).all(axis=1)
    values = blocks(intensity)[inside]
    mean, var = values.mean(axis=1), values.var(axis=1)
    # A perfectly flat window has infinite looks; cap it so medians stay finite.
    return mean**2 / np.maximum(var, 1e-12 * mean**2 + 1e-30)


def radial_power_spectrum(db: np.ndarray) -> np.ndarray:
    """Mean over images of the radially averaged power spectrum of (N, H, W) images."""
    n, h, w = db.shape
    centred = db - db.mean(axis=(1, 2), keepdims=True)
    power = (np.abs(np.fft.rfft2(centred)) ** 2).mean(axis=0)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.rint(np.sqrt(fy**2 + fx**2) * min(h, w)).astype(int)
    keep = radius <= min(h, w) // 2
    sums = np.bincount(radius[keep], weights=power[keep], minlength=min(h, w) // 2 + 1)
    counts = np.bincount(radius[keep], minlength=min(h, w) // 2 + 1)
    return sums / np.maximum(counts, 1)


@dataclass
class SarStatistics:
    """Accumulates real and generated images of one snapshot, batch by batch."""

    scaling: SarScaling
    _hist_real: dict[str, np.ndarray] = field(default_factory=dict)
    _hist_gen: dict[str, np.ndarray] = field(default_factory=dict)
    _enl_real: dict[str, list[np.ndarray]] = field(default_factory=dict)
    _enl_gen: dict[str, list[np.ndarray]] = field(default_factory=dict)
    _spectrum_real: np.ndarray | None = None
    _spectrum_gen: np.ndarray | None = None
    _spectra_patches: int = 0  # patches without no-data, summed into the spectra

    def __post_init__(self) -> None:
        self.edges = np.linspace(self.scaling.db_min, self.scaling.db_max, HIST_BINS + 1)
        for c in SAR_CLASSES:
            self._hist_real[c] = np.zeros(HIST_BINS)
            self._hist_gen[c] = np.zeros(HIST_BINS)
            self._enl_real[c], self._enl_gen[c] = [], []

    def add(self, zones: np.ndarray, real_scaled: np.ndarray, generated_scaled: np.ndarray) -> None:
        """One batch: zone codes (N, H, W), real and generated images (N, H, W[, 1]) in [-1, 1]."""
        real_db = self.scaling.model_to_db(np.reshape(real_scaled, zones.shape))
        gen_db = self.scaling.model_to_db(np.reshape(generated_scaled, zones.shape))
        radiometric = self.scaling.units in RADIOMETRIC_UNITS
        if radiometric:
            real_lin, gen_lin = 10.0 ** (real_db / 10.0), 10.0 ** (gen_db / 10.0)
        for name, code in SAR_CLASSES.items():
            where = zones == code
            self._hist_real[name] += np.histogram(real_db[where], self.edges)[0]
            self._hist_gen[name] += np.histogram(gen_db[where], self.edges)[0]
            if radiometric:
                self._enl_real[name].append(window_enl(real_lin, zones, code))
                self._enl_gen[name].append(window_enl(gen_lin, zones, code))
        whole = valid_zones(zones).all(axis=(1, 2))  # patches without any no-data pixel
        n = int(whole.sum())
        if n:
            real_spec, gen_spec = radial_power_spectrum(real_db[whole]), radial_power_spectrum(gen_db[whole])
            if self._spectrum_real is None:
                self._spectrum_real, self._spectrum_gen = np.zeros_like(real_spec), np.zeros_like(gen_spec)
            self._spectrum_real += real_spec * n
            self._spectrum_gen += gen_spec * n
            self._spectra_patches += n

    def summary(self) -> dict[str, float]:
        """The statistics named by :func:`stat_names` (NaN where a class never occurs, and
        the spectral distance NaN where no patch is free of no-data)."""
        from scipy.stats import wasserstein_distance

        centres = (self.edges[:-1] + self.edges[1:]) / 2.0
        out: dict[str, float] = {}
        for c in SAR_CLASSES:
            real, gen = self._hist_real[c], self._hist_gen[c]
            out[f"w1_db_{c}"] = (
                float(wasserstein_distance(centres, centres, real, gen)) if real.sum() and gen.sum() else float("nan")
            )
        for c in SAR_CLASSES:
            real = np.concatenate(self._enl_real[c]) if self._enl_real[c] else np.zeros(0)
            gen = np.concatenate(self._enl_gen[c]) if self._enl_gen[c] else np.zeros(0)
            enl_real = float(np.median(real)) if real.size else float("nan")
            enl_gen = float(np.median(gen)) if gen.size else float("nan")
            out[f"enl_real_{c}"], out[f"enl_gen_{c}"] = enl_real, enl_gen
            out[f"enl_ratio_{c}"] = enl_gen / enl_real if real.size and enl_real > 0 else float("nan")
        if self._spectra_patches:
            # DC (radius 0) carries only the removed mean; skip it.
            real = self._spectrum_real[1:] / self._spectra_patches
            gen = self._spectrum_gen[1:] / self._spectra_patches
            floor = 1e-12 * max(real.max(), gen.max(), 1e-30)
            diff = 10.0 * np.abs(np.log10(np.maximum(gen, floor)) - np.log10(np.maximum(real, floor)))
            out["spectral_distance_db"] = float(diff.mean())
        else:
            out["spectral_distance_db"] = float("nan")
        out["spectra_patches"] = self._spectra_patches
        return out
