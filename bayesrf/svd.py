"""Space-time separation of receptive fields by the SVD.

The RF ``w[lag, y, x]`` is reshaped to a (lag x pixel) matrix ``W``, centred,
and decomposed ``W = sum_k s_k v_k u_k^T``: ``v_k`` (over lags) is the
*temporal* component, ``u_k`` (over pixels, shown as a y x x image) the
*spatial* component, ``s_k`` the singular value. Both vectors have unit
norm; the amplitude lives in ``s_k``.

Centring (``center``)
    ``"space"`` (default) subtracts each lag's mean over pixels (the response
    to the full-field luminance of that lag). It keeps a separable RF
    separable (``v (u - mean(u))^T``) and leaves the time course as it is.
    ``"time"`` subtracts each pixel's mean over lags. Use it for point
    estimates fitted without a drifting baseline (:func:`bayesrf.fit_ml`):
    on the bundled neuron, pixels whose frame-average happens to follow
    the slow firing-rate drift pick up the same weight at every lag, and
    that lag-constant offset (not a receptive field) is then the largest
    SVD component. The price is that the time course is shown relative to
    its mean over lags. The Bayesian models' spline baseline absorbs the
    drift, so their posteriors do not need it. ``"none"`` does not centre.
    The course lab subtracted one global mean, which makes a separable RF
    rank 2; it is not offered.

Sign convention
    Singular vectors are defined up to a joint sign flip of ``(u_k, v_k)``.
    Without a reference, each component is signed so that the spatial
    pixel with the largest absolute value is positive (so an OFF RF shows
    a positive spatial peak and a negative time-course lobe). With a
    ``reference`` decomposition (e.g. the posterior mean's), each component
    is signed so that ``u . u_ref + v . v_ref >= 0``, which makes draws of a
    posterior comparable even where the peak pixel is uncertain.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import DataError

__all__ = ["CENTERINGS", "align_signs", "rf_svd"]

CENTERINGS = ("space", "time", "none")


def _center(W: xr.DataArray, center: str) -> xr.DataArray:
    if center == "space":
        return W - W.mean("pixel", skipna=False)
    if center == "time":
        return W - W.mean("lag", skipna=False)
    if center == "none":
        return W
    raise DataError(f"center must be one of {CENTERINGS}; got {center!r}.")


def _batched_svd(W: xr.DataArray, k: int) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """numpy's batched SVD over the core dims (lag, pixel); first ``k`` components."""
    U, S, Vh = xr.apply_ufunc(
        lambda a: np.linalg.svd(a, full_matrices=False),
        W,
        input_core_dims=[["lag", "pixel"]],
        output_core_dims=[["lag", "component"], ["component"], ["component", "pixel"]],
    )
    comp = {"component": slice(0, k)}
    return U.isel(comp), S.isel(comp), Vh.isel(comp)


def _signs(spatial: xr.DataArray, temporal: xr.DataArray, reference: xr.Dataset | None) -> xr.DataArray:
    if reference is None:
        peak = abs(spatial).argmax("pixel")
        return xr.where(spatial.isel(pixel=peak) < 0, -1.0, 1.0)
    ref_u = reference["spatial"].stack(pixel=("y", "x")).drop_vars(["pixel", "y", "x"])
    ref_v = reference["temporal"].drop_vars("lag", errors="ignore")
    agreement = xr.dot(spatial, ref_u, dim="pixel") + xr.dot(temporal.drop_vars("lag", errors="ignore"), ref_v, dim="lag")
    return xr.where(agreement < 0, -1.0, 1.0)


def align_signs(svd: xr.Dataset, reference: xr.Dataset | None = None) -> xr.Dataset:
    """Flip components of a decomposition (e.g. one per draw) to the sign convention.

    Parameters
    ----------
    svd : xarray.Dataset
        ``spatial`` (..., component, y, x) and ``temporal`` (..., component, lag).
    reference : xarray.Dataset, optional
        Align to it (``u . u_ref + v . v_ref >= 0``); default: largest spatial pixel positive.

    Returns
    -------
    xarray.Dataset
        A copy with ``spatial`` and ``temporal`` flipped jointly where needed.
    """
    spatial = svd["spatial"].stack(pixel=("y", "x")).drop_vars(["pixel", "y", "x"])
    sign = _signs(spatial, svd["temporal"], reference)
    out = svd.copy()
    out["spatial"] = svd["spatial"] * sign
    out["temporal"] = svd["temporal"] * sign
    return out


def rf_svd(
    rf: xr.DataArray,
    n_components: int = 2,
    center: str = "space",
    reference: xr.Dataset | None = None,
) -> xr.Dataset:
    """SVD of a receptive field (or of every draw of one) into space and time.

    Parameters
    ----------
    rf : xarray.DataArray
        Dims ``lag, y, x`` plus any batch dims (e.g. ``chain, draw``).
    n_components : int, default 2
        Components to keep (<= min(n_lags, n_pixels)).
    center : {"space", "time", "none"}
        Mean subtracted before the SVD (see the module docstring).
    reference : xarray.Dataset, optional
        A decomposition (``spatial`` (component, y, x), ``temporal``
        (component, lag)) to align signs to; by default each component's
        largest spatial pixel is made positive.

    Returns
    -------
    xarray.Dataset
        ``spatial`` (..., component, y, x), ``temporal`` (..., component, lag),
        ``singular_value`` (..., component) and ``explained_variance``
        (..., component): ``s_k^2 / sum_j s_j^2`` of the centred RF.

    Examples
    --------
    >>> import numpy as np
    >>> v, u = np.array([0.0, 1.0, -0.5]), np.random.default_rng(0).normal(size=(4, 5))
    >>> rf = xr.DataArray(v[:, None, None] * u, dims=("lag", "y", "x"))
    >>> out = rf_svd(rf, n_components=1, center="none")
    >>> round(float(out.explained_variance[0]), 6)
    1.0
    """
    missing = [d for d in ("lag", "y", "x") if d not in rf.dims]
    if missing:
        raise DataError(f"rf needs dims lag, y, x; missing {missing} (got {rf.dims}).")
    n_lags, n_pix = rf.sizes["lag"], rf.sizes["y"] * rf.sizes["x"]
    if not 1 <= n_components <= min(n_lags, n_pix):
        raise DataError(f"n_components must be between 1 and {min(n_lags, n_pix)}; got {n_components}.")
    ny, nx = rf.sizes["y"], rf.sizes["x"]
    W = _center(rf.stack(pixel=("y", "x")).drop_vars(["pixel", "y", "x"]), center)
    temporal, S, spatial = _batched_svd(W, n_components)
    sign = _signs(spatial, temporal, reference)
    total = xr.dot(W, W, dim=("lag", "pixel"))
    spatial = sign * spatial
    spatial_img = xr.apply_ufunc(
        lambda a: a.reshape(*a.shape[:-1], ny, nx),
        spatial, input_core_dims=[["pixel"]], output_core_dims=[["y", "x"]],
    )
    out = xr.Dataset(
        {
            "spatial": spatial_img.transpose(..., "component", "y", "x"),
            "temporal": (sign * temporal).transpose(..., "component", "lag"),
            "singular_value": S,
            "explained_variance": S**2 / total,
        }
    ).assign_coords(component=np.arange(n_components))
    for name in ("lag", "y", "x"):
        if name in rf.coords:
            out = out.assign_coords({name: rf.coords[name]})
    out.attrs.update(center=center, sign_rule="reference" if reference is not None else "positive spatial peak")
    return out
