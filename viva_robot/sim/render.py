"""Fast offscreen rendering of a MuJoCo scene from a fixed free camera.

gymnasium's render path re-creates state and draws shadows, reflections and the skybox; a reused
`mujoco.Renderer` with those turned off is ~4x (door) to ~11x (kitchen) faster on CPU (DESIGN.md §3).
Headless machines: MUJOCO_GL=egl with EGL_PLATFORM=surfaceless (Mesa llvmpipe); `viva_robot/__init__.py`
sets these defaults before mujoco is first imported.

Frames are drawn from a render-only copy of the model whose large meshes are decimated: the Franka's visual
meshes carry 134k of the kitchen's 142k triangles, which a software rasteriser pays for on every 64x64
frame. Decimated to at most `MAX_MESH_FACES` triangles each, a kitchen frame renders ~2.2x faster and
differs from the full-detail frame by 0.6/255 per pixel on average (100 random arm poses, ad-hoc probe;
tests/sim/test_collect.py holds it below 1.5/255).

Static geoms that never put a pixel on the camera's frames (outside its view, behind the counters, the oven's
hidden burners) are left out of the scene: the rasteriser transformed and clipped their triangles on every frame
for nothing. Frames are identical, pixel for pixel (tests/sim/test_collect.py).

Collection, the env, the goal image and the ROS sim robot all draw through this class, so the value never sees
frames of another look than its training video.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import mujoco
import numpy as np

HIDDEN_GROUP = 5  # a geom group mujoco's default scene options do not draw (0-2 are drawn)
CULL_UNSEEN = True  # leave out static geoms the camera never sees (read when a renderer starts; benchmarks turn it off)
MAX_MESH_FACES = 1000  # per mesh; 2000: 1.97x faster, 0.41/255 mean difference; 500: no faster than 1000


@dataclass(frozen=True)
class CameraPose:
    """A free camera looking at `lookat` from `distance` metres at `azimuth`/`elevation` degrees."""

    lookat: tuple[float, float, float]
    distance: float
    azimuth: float
    elevation: float


class SceneRenderer:
    """Renders uint8 (size, size, 3) frames of `model`/`data` from one fixed camera, reusing one GL context."""

    def __init__(self, model: mujoco.MjModel, size: int, camera: CameraPose, msaa_samples: int = 0,
                 full_detail: bool = False, cull: bool | None = None):
        model = render_model(model, None if full_detail else MAX_MESH_FACES)  # read here: benchmarks set it to None
        # The offscreen framebuffer is sized from the model (the kitchen asks for 2560x1920): shrink it to
        # the frame size so clearing and reading it back costs nothing extra.
        model.vis.global_.offwidth = size
        model.vis.global_.offheight = size
        # Multisampling is the largest cost on a software rasteriser: off, a 64x64 frame renders ~3x faster
        # (door 98 -> 320 frames/s, kitchen 19 -> 50 on 2 busy cores). Training and acting use the same
        # renderer, so the value never sees a different look than it was trained on.
        model.vis.quality.offsamples = msaa_samples
        self.size = size
        try:
            self._renderer = mujoco.Renderer(model, size, size)
        except mujoco.FatalError as e:
            raise RuntimeError(
                f"cannot create an offscreen OpenGL context ({e}). On a machine without a display set "
                "MUJOCO_GL=egl (and EGL_PLATFORM=surfaceless) before mujoco is first imported, or import "
                "viva_robot before mujoco, which does that by default"
            ) from None
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
            self._renderer.scene.flags[flag] = 0
        self.camera = mujoco.MjvCamera()
        mujoco.mjv_defaultFreeCamera(model, self.camera)
        self.camera.lookat[:] = camera.lookat
        self.camera.distance = camera.distance
        self.camera.azimuth = camera.azimuth
        self.camera.elevation = camera.elevation
        self._cull = CULL_UNSEEN if cull is None else cull
        self._model = model  # the render copy
        self._groups = model.geom_group.copy()
        self._static = static_geoms(model)
        self._static_pose: tuple[np.ndarray, np.ndarray] | None = None  # where the static geoms were when searched
        self.hidden: list[int] = []  # the static geoms left out of the scene, found at the first frame

    def render(self, data: mujoco.MjData) -> np.ndarray:
        # `data` belongs to the physics model; the render copy has the same bodies and geoms, so its poses apply
        if self._cull and not self._static_unmoved(data):
            # the camera never moves, nor do static geoms (unless an env places one anew at reset, as the door's
            # frame): what the camera cannot see of them now it never will
            self._model.geom_group[:] = self._groups
            self.hidden = static_geoms_never_seen(self._model, self._renderer, self.camera, data, self._static)
            self._model.geom_group[self.hidden] = HIDDEN_GROUP
            self._static_pose = data.geom_xpos[self._static].copy(), data.geom_xmat[self._static].copy()
        self._renderer.update_scene(data, self.camera)
        return self._renderer.render()  # a fresh array each call

    def _static_unmoved(self, data: mujoco.MjData) -> bool:
        return self._static_pose is not None and np.array_equal(data.geom_xpos[self._static], self._static_pose[0]) \
            and np.array_equal(data.geom_xmat[self._static], self._static_pose[1])

    def close(self) -> None:
        # Free the GL context now; letting the interpreter do it at exit makes EGL print tracebacks.
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "SceneRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def static_geoms(model: mujoco.MjModel) -> np.ndarray:
    """Which geoms belong to bodies welded to the world, outside any mocap body's tree: what the physics never moves."""
    body = model.geom_bodyid
    return (model.body_weldid[body] == 0) & (model.body_mocapid[model.body_rootid[body]] < 0)


def static_geoms_never_seen(model: mujoco.MjModel, renderer: mujoco.Renderer, camera: mujoco.MjvCamera,
                            data: mujoco.MjData, static: np.ndarray) -> list[int]:
    """Drawn static geoms that put nothing on `camera`'s frames: outside its view, behind other opaque static geoms, or
    covering no pixel centre. Found greedily on frames of the static geoms alone (no moving geom, site, tendon or
    skin), posed as in `data`: a geom is hidden only if the frame without it (and those hidden before) is the same,
    colour and depth, pixel for pixel. Depth, because a geom in front of one of the same colour changes no colour
    but would still cover what moves behind it. What moves only adds itself in front of or behind the static
    geometry, and leaving things out of the search only keeps more geoms, so no frame changes."""
    groups = model.geom_group.copy()
    model.geom_group[~static] = HIDDEN_GROUP
    option = mujoco.MjvOption()
    option.sitegroup[:] = 0
    for flag in (mujoco.mjtVisFlag.mjVIS_TENDON, mujoco.mjtVisFlag.mjVIS_SKIN, mujoco.mjtVisFlag.mjVIS_FLEXVERT,
                 mujoco.mjtVisFlag.mjVIS_FLEXEDGE, mujoco.mjtVisFlag.mjVIS_FLEXFACE, mujoco.mjtVisFlag.mjVIS_FLEXSKIN):
        option.flags[flag] = 0

    def frame() -> tuple[np.ndarray, np.ndarray]:
        renderer.update_scene(data, camera, option)
        rgb = renderer.render()
        renderer.enable_depth_rendering()
        depth = renderer.render()
        renderer.disable_depth_rendering()
        return rgb, depth

    scene, hidden = frame(), []
    for g in np.flatnonzero(static & (groups < 3)):  # groups 0-2: what the default scene draws
        model.geom_group[g] = HIDDEN_GROUP
        if all(np.array_equal(a, b) for a, b in zip(frame(), scene)):
            hidden.append(int(g))
        else:
            model.geom_group[g] = groups[g]
    model.geom_group[:] = groups
    return hidden


def render_model(model: mujoco.MjModel, max_faces: int | None) -> mujoco.MjModel:
    """A copy of `model` for drawing only: each untextured mesh above `max_faces` triangles decimated
    (quadric error, fast-simplification) with smooth vertex normals; None keeps every mesh as it is."""
    model = copy.copy(model)  # mj_copyModel: the physics model is never touched
    if max_faces is None:
        return model
    import fast_simplification

    for i in range(model.nmesh):
        faces = int(model.mesh_facenum[i])
        if faces <= max_faces or model.mesh_texcoordnum[i]:
            continue  # textured meshes would need their texture coordinates carried over
        va, nv, fa, na = model.mesh_vertadr[i], model.mesh_vertnum[i], model.mesh_faceadr[i], model.mesh_normaladr[i]
        vert, face = fast_simplification.simplify(model.mesh_vert[va:va + nv].astype(np.float32),
                                                  model.mesh_face[fa:fa + faces], target_reduction=1 - max_faces / faces)
        if len(vert) > model.mesh_normalnum[i]:
            continue  # fewer normals than the new vertices (shared normals): there is no room for one per vertex
        # the decimated mesh fits in the original's slots: fewer vertices and faces, one normal per vertex
        model.mesh_vert[va:va + len(vert)] = vert
        model.mesh_vertnum[i] = len(vert)
        model.mesh_face[fa:fa + len(face)] = face
        model.mesh_facenum[i] = len(face)
        model.mesh_normal[na:na + len(vert)] = vertex_normals(vert, face)
        model.mesh_normalnum[i] = len(vert)
        model.mesh_facenormal[fa:fa + len(face)] = face
    return model


def vertex_normals(vert: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Unit normals per vertex: the area-weighted sum of its faces' normals."""
    tri = vert[face]
    face_normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal = np.zeros_like(vert)
    for k in range(3):
        np.add.at(normal, face[:, k], face_normal)
    return normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
