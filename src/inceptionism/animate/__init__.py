"""Frames over time: endless zooms, dreams over a video, live cameras.

- :mod:`.loop`: Google's endless zoom and dreaming (or stylising) a video frame by frame, steadied along the
  optical flow
- :mod:`.schedule`: parameters that change over an animation (ramps, layer changes, keyframe files)
- :mod:`.frames`: a folder of numbered frames that an interrupted run resumes from
- :mod:`.live`: a camera's frames painted or dreamed one after another, as fast as they come
"""
