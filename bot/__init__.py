"""Zhixun (智询): the plain-Python core shared by the action server and the web app."""
